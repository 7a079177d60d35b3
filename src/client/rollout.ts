import type { RolloutConfig } from '../config/traffic-config.js';
import type { RolloutDecision, RolloutRecord } from '../router/rollout-store.js';
import { SlipwayClientError } from './client-error.js';
import { SlipwayHttpClient, type RolloutStatus } from './http-client.js';

export interface RolloutTarget {
  /** The server, e.g. `http://127.0.0.1:8000`. */
  url: string;
  /** The admin token (`--admin-token` of the server), for starting. */
  token?: string;
  /** Per-request timeout in ms (default 30 000). */
  timeoutMs?: number;
}

export interface FollowOptions {
  /** How often the status is read (default 1000 ms). */
  pollMs?: number;
  /** Called once for each new decision, in order. */
  onDecision?: (decision: RolloutDecision, rollout: RolloutRecord) => void;
  /** Give up after this long (default: never); the rollout keeps running on the server. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function clientFor(target: RolloutTarget): SlipwayHttpClient {
  const { token, timeoutMs } = target;
  // The admin token opens every route group, so the reads (status, readiness) pass on a server that needs keys.
  return new SlipwayHttpClient(target.url, { retries: 2, ...(token !== undefined && token !== '' && { adminToken: token, apiKey: token }), ...(timeoutMs !== undefined && { timeoutMs }) });
}

/**
 * Starts a canary rollout of `rollout.to` on a running server: the programmatic twin of
 * `slipway rollout start`. Resolves with the status once the server has started it (the first
 * step's weights are in effect); `followRollout` waits for it to finish.
 *
 * @example
 * import { startRollout, followRollout } from 'slipway/client';
 * const started = await startRollout({ url: 'http://127.0.0.1:8000', token }, 'digits', { to: 2, interval: '1m' });
 * const done = await followRollout({ url: 'http://127.0.0.1:8000' }, 'digits', started.rollout!.id);
 * console.log(done.rollout?.state); // 'promoted' or 'rolled_back'
 */
export function startRollout(target: RolloutTarget, model: string, rollout: RolloutConfig): Promise<RolloutStatus> {
  return clientFor(target).startRollout(model, rollout);
}

/**
 * Follows a rollout until it is promoted or rolled back, reporting each decision as it is taken.
 * Resolves with the final status; rejects if the rollout is replaced by another or the timeout passes.
 */
export async function followRollout(target: RolloutTarget, model: string, rolloutId: string, options: FollowOptions = {}): Promise<RolloutStatus> {
  const client = clientFor(target);
  const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  let reported = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const status = await client.rolloutStatus(model);
    const rollout = status.rollout;
    if (rollout === null || rollout.id !== rolloutId) {
      throw new SlipwayClientError(`rollout ${rolloutId} of model '${model}' is no longer the current one`, { code: 'ROLLOUT_NOT_FOUND' });
    }
    for (const decision of rollout.decisions.slice(reported)) options.onDecision?.(decision, rollout);
    reported = rollout.decisions.length;
    if (rollout.state !== 'progressing') return status;
    if (Date.now() >= deadline) throw new SlipwayClientError(`rollout ${rolloutId} of model '${model}' is still progressing after ${options.timeoutMs} ms`, { code: 'DEADLINE_EXCEEDED' });
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}
