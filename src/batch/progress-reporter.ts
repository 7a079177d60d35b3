import cliProgress from 'cli-progress';

export interface ProgressSnapshot {
  /** Rows consumed in this attempt (predicted + rejected). */
  rows: number;
  rejected: number;
  /** Progress through the input in `unit`, and its total when known. */
  done: number;
  total: number | undefined;
  unit: 'bytes' | 'rows';
  elapsedMs: number;
}

/** Where a running job reports how far it is; the CLI picks a bar on a terminal and log lines elsewhere. */
export interface ProgressReporter {
  start(label: string): void;
  update(snapshot: ProgressSnapshot): void;
  stop(): void;
}

export const silentProgress: ProgressReporter = { start: () => undefined, update: () => undefined, stop: () => undefined };

const number = (n: number): string => Math.round(n).toLocaleString('en-US');

function eta(snapshot: ProgressSnapshot): string {
  if (snapshot.total === undefined || snapshot.done <= 0 || snapshot.elapsedMs <= 0) return '?';
  const seconds = ((snapshot.total - snapshot.done) / snapshot.done) * (snapshot.elapsedMs / 1000);
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 90) return `${Math.ceil(seconds)}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

/** A progress bar with rows, rate, rejects and ETA, redrawn at most every 100 ms. */
export function barProgress(stream: NodeJS.WriteStream): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{label} {bar} {percentage}% | {rows} rows | {rate} rows/s | {rejected} rejected | ETA {etaText}',
      hideCursor: true,
      fps: 10,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let label = '';
  let started = false;
  return {
    start(name) {
      label = name;
    },
    update(s) {
      const payload = {
        label,
        rows: number(s.rows),
        rate: number(s.elapsedMs > 0 ? (s.rows / s.elapsedMs) * 1000 : 0),
        rejected: number(s.rejected),
        etaText: eta(s),
      };
      if (!started) {
        started = true;
        bar.start(s.total ?? 0, s.done, payload);
      } else {
        if (s.total !== undefined) bar.setTotal(s.total);
        bar.update(s.done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** One plain line every `intervalMs` (for logs and CI, where a redrawn bar is noise). */
export function lineProgress(write: (line: string) => void, intervalMs: number, now: () => number = Date.now): ProgressReporter {
  let label = '';
  let last = 0;
  const print = (s: ProgressSnapshot): void => {
    const percent = s.total !== undefined && s.total > 0 ? ` (${Math.min(100, Math.floor((s.done / s.total) * 100))}%)` : '';
    const rate = s.elapsedMs > 0 ? (s.rows / s.elapsedMs) * 1000 : 0;
    write(`${label}: ${number(s.rows)} rows${percent}, ${number(rate)} rows/s, ${number(s.rejected)} rejected, ETA ${eta(s)}\n`);
  };
  return {
    start(name) {
      label = name;
      last = now();
    },
    update(s) {
      const t = now();
      if (t - last >= intervalMs) {
        last = t;
        print(s);
      }
    },
    stop() {},
  };
}
