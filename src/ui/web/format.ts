export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** Milliseconds with the precision worth reading: 0.042 ms, 3.4 ms, 120 ms. */
export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

export function formatPercent(p: number): string {
  const percent = p * 100;
  if (percent > 0 && percent < 0.1) return '<0.1%';
  // 0.9999 is not 100%: show the digits that say how sure it is.
  if (percent > 99.9 && percent < 100) return `${Math.min(99.99, percent).toFixed(2)}%`;
  return `${percent.toFixed(1)}%`;
}

export function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A value as short text for a table cell. */
export function shortJson(value: unknown, max = 120): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) return '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
