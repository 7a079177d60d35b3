// Parsing lives with the config (graph step timeouts use it too); batch flags keep importing it from here.
export { parseDuration } from '../config/duration.js';

/** `2h 5m`, `3m 10s`, `42s`: an age for people. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
