import { Pool } from 'undici';
import { summarizeLatencies, type LatencySummary } from './latency-summary.js';

export interface HttpCall {
  method: 'GET' | 'POST';
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
}

export interface ClosedLoopOptions {
  url: string;
  concurrency: number;
  /** Stop after this long… */
  durationMs?: number;
  /** …or after this many requests in all. */
  requests?: number;
  /** Requests to send first and not count (connections, JIT, the server's first batches). */
  warmupRequests?: number;
  /** Awaited between warm-up and measurement (e.g. to snapshot the server's statistics). */
  afterWarmup?: () => Promise<void>;
  /** Called as requests complete, for a progress display. */
  onProgress?: (done: number, elapsedMs: number) => void;
}

export interface ClosedLoopResult {
  concurrency: number;
  requests: number;
  errors: number;
  /** First error seen (status and body start), to explain a run full of them. */
  firstError?: string;
  elapsedMs: number;
  perSecond: number;
  latency: LatencySummary;
}

/**
 * perf_analyzer's closed loop: `concurrency` callers on keep-alive connections, each sending its
 * next request as soon as the previous one is answered. undici's Pool rather than fetch: the load
 * generator must cost far less than the server it measures.
 */
export async function runClosedLoop(call: HttpCall | (() => HttpCall), options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const pool = new Pool(options.url, { connections: options.concurrency, pipelining: 1 });
  const next = typeof call === 'function' ? call : () => call;
  const send = async (): Promise<string | undefined> => {
    const c = next();
    const response = await pool.request({ method: c.method, path: c.path, body: c.body ?? null, headers: c.headers ?? {} });
    const body = await response.body.arrayBuffer();
    return response.statusCode >= 400 ? `${response.statusCode}: ${Buffer.from(body).subarray(0, 200).toString()}` : undefined;
  };
  try {
    return await runCallLoop(send, options);
  } finally {
    await pool.close();
  }
}

/**
 * The same closed loop over any call (an in-process `slipway.infer`, a worker): `send` resolves
 * to undefined on success or a description of the failure.
 *
 * @example
 * const result = await runCallLoop(() => slipway.infer(request).then(() => undefined), { concurrency: 4, durationMs: 2000 });
 */
export async function runCallLoop(send: () => Promise<string | undefined>, options: Omit<ClosedLoopOptions, 'url'>): Promise<ClosedLoopResult> {
  let errors = 0;
  let firstError: string | undefined;
  const attempt = async (): Promise<boolean> => {
    let failure: string | undefined;
    try {
      failure = await send();
    } catch (error) {
      failure = (error as Error).message ?? String(error);
    }
    if (failure === undefined) return true;
    errors++;
    firstError ??= failure;
    return false;
  };
  const warmup = options.warmupRequests ?? options.concurrency * 2;
  let warmed = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (warmed < warmup) {
        warmed++;
        await attempt();
      }
    }),
  );
  errors = 0;
  firstError = undefined;
  await options.afterWarmup?.();
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : started + options.durationMs;
  const limit = options.requests ?? Number.POSITIVE_INFINITY;
  let issued = 0;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (issued < limit && performance.now() < deadline) {
        issued++;
        const t = performance.now();
        const ok = await attempt();
        if (ok) latencies.push(performance.now() - t);
        options.onProgress?.(latencies.length + errors, performance.now() - started);
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  return {
    concurrency: options.concurrency,
    requests: latencies.length,
    errors,
    ...(firstError !== undefined && { firstError }),
    elapsedMs,
    perSecond: (latencies.length / elapsedMs) * 1000,
    latency: summarizeLatencies(latencies),
  };
}
