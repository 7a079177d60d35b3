/**
 * Crash points for the exactly-once tests: with `SLIPWAY_BATCH_FAILPOINT=<name>[:<n>]` the process
 * kills itself with SIGKILL (as `kill -9` would, no cleanup) the n-th time it reaches the named point
 * (the first time when n is absent). Points: `after-start` (run recorded, nothing committed),
 * `mid-batch` (after a commit, with chunks in flight), `mid-commit` (rows written, transaction not
 * committed). Unset, it costs one comparison.
 */
const spec = process.env.SLIPWAY_BATCH_FAILPOINT;
const [name, nth] = spec === undefined ? [undefined, 1] : [spec.split(':')[0], Number(spec.split(':')[1] ?? 1)];
let hits = 0;

export type FailpointName = 'after-start' | 'mid-batch' | 'mid-commit';

export function failpoint(point: FailpointName): void {
  if (name !== point) return;
  hits++;
  if (hits >= nth) process.kill(process.pid, 'SIGKILL');
}
