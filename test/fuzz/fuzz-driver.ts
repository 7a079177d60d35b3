// Sends the fuzzing cases and judges each answer by the rules issue 18 set: no crash, no 5xx but a
// deliberate 503/504, an error body in JSON with an `error` string, and every answer bounded in size.
import { Metadata, credentials, status as GrpcStatus, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadServices } from '../../src/protocol/grpc/proto.js';
import { grpcCase, httpCase } from './fuzz-cases.js';

/** Largest error answer allowed: messages are capped at 2,000 characters (≤ 3 bytes each in UTF-8). */
export const MAX_ERROR_BYTES = 8 * 1024;

export interface FuzzFailure {
  protocol: 'http' | 'grpc';
  seed: number;
  index: number;
  mutation: string;
  problem: string;
}

export interface FuzzSummary {
  sent: number;
  /** Answers by HTTP status or gRPC status name. */
  byStatus: Record<string, number>;
  failures: FuzzFailure[];
  largestErrorBytes: number;
  /** Largest success answer relative to its request (bytes out ÷ bytes in). */
  largestSuccessRatio: number;
}

function emptySummary(): FuzzSummary {
  return { sent: 0, byStatus: {}, failures: [], largestErrorBytes: 0, largestSuccessRatio: 0 };
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` at once. */
async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/**
 * Sends HTTP cases `first … first+count-1` of `seed` to `url` and checks every answer. A case the
 * HTTP client itself refuses to send (an invalid header) is counted as `unsendable`, not a failure.
 */
export async function fuzzHttp(url: string, seed: number, count: number, options: { first?: number; concurrency?: number } = {}): Promise<FuzzSummary> {
  const summary = emptySummary();
  const first = options.first ?? 0;
  await pool(count, options.concurrency ?? 8, async (n) => {
    const index = first + n;
    const c = httpCase(seed, index);
    const fail = (problem: string): void => {
      summary.failures.push({ protocol: 'http', seed, index, mutation: c.mutation, problem });
    };
    let response: Response;
    try {
      response = await fetch(`${url}${c.path}`, { method: c.method, headers: c.headers, ...(c.body !== undefined && { body: c.body }) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      if (error instanceof TypeError && cause?.code === undefined) {
        summary.byStatus.unsendable = (summary.byStatus.unsendable ?? 0) + 1;
        return;
      }
      fail(`no answer: ${(error as Error).message} ${cause?.code ?? ''}`);
      return;
    }
    summary.sent++;
    const body = Buffer.from(await response.arrayBuffer());
    const key = String(response.status);
    summary.byStatus[key] = (summary.byStatus[key] ?? 0) + 1;
    if (response.status >= 500 && response.status !== 503 && response.status !== 504) fail(`status ${response.status}: ${body.subarray(0, 300).toString()}`);
    if (response.status === 503 && response.headers.get('retry-after') === null) fail('503 without Retry-After');
    if (response.status >= 400) {
      summary.largestErrorBytes = Math.max(summary.largestErrorBytes, body.byteLength);
      if (body.byteLength > MAX_ERROR_BYTES) fail(`error answer of ${body.byteLength} bytes`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        fail(`error answer is not JSON: ${body.subarray(0, 200).toString()}`);
        return;
      }
      if (typeof (parsed as { error?: unknown }).error !== 'string') fail(`error answer without an 'error' string: ${body.subarray(0, 200).toString()}`);
    } else {
      const ratio = body.byteLength / Math.max(c.body?.byteLength ?? 0, 256);
      summary.largestSuccessRatio = Math.max(summary.largestSuccessRatio, ratio);
      if (ratio > 16) fail(`answer of ${body.byteLength} bytes to a ${c.body?.byteLength ?? 0}-byte request`);
    }
  });
  return summary;
}

/** A ModelInfer client that sends raw bytes as the request message. */
export function rawGrpcClient(address: string): Client {
  const { inference } = loadServices();
  return new inference(address, credentials.createInsecure());
}

/**
 * Sends gRPC cases `first … first+count-1` of `seed` and checks every status: never INTERNAL,
 * UNKNOWN or DATA_LOSS; UNAVAILABLE only when the server chose it (it names a `slipway-code`).
 */
export async function fuzzGrpc(client: Client, seed: number, count: number, options: { first?: number; concurrency?: number } = {}): Promise<FuzzSummary> {
  const summary = emptySummary();
  const first = options.first ?? 0;
  await pool(count, options.concurrency ?? 8, async (n) => {
    const index = first + n;
    const c = grpcCase(seed, index);
    const { error, reply } = await new Promise<{ error: ServiceError | null; reply: Buffer | undefined }>((resolve) => {
      client.makeUnaryRequest(
        '/inference.GRPCInferenceService/ModelInfer',
        (b: Buffer) => b,
        (b: Buffer) => b,
        c.bytes,
        new Metadata(),
        (e, value) => resolve({ error: e, reply: value }),
      );
    });
    summary.sent++;
    const code = error?.code ?? GrpcStatus.OK;
    const key = GrpcStatus[code] ?? String(code);
    summary.byStatus[key] = (summary.byStatus[key] ?? 0) + 1;
    const fail = (problem: string): void => {
      summary.failures.push({ protocol: 'grpc', seed, index, mutation: c.mutation, problem });
    };
    if (error === null) {
      const ratio = (reply?.byteLength ?? 0) / Math.max(c.bytes.byteLength, 256);
      summary.largestSuccessRatio = Math.max(summary.largestSuccessRatio, ratio);
      if (ratio > 16) fail(`answer of ${reply?.byteLength} bytes to a ${c.bytes.byteLength}-byte request`);
      return;
    }
    const details = Buffer.byteLength(error.details ?? '', 'utf8');
    summary.largestErrorBytes = Math.max(summary.largestErrorBytes, details);
    if (details > MAX_ERROR_BYTES) fail(`details of ${details} bytes`);
    if (code === GrpcStatus.INTERNAL || code === GrpcStatus.UNKNOWN || code === GrpcStatus.DATA_LOSS) fail(`${key}: ${error.details.slice(0, 300)}`);
    if (code === GrpcStatus.UNAVAILABLE && error.metadata.get('slipway-code').length === 0) fail(`UNAVAILABLE from the transport: ${error.details.slice(0, 300)}`);
  });
  return summary;
}

/** Adds `b` into `a` (for runs sent in several slices). */
export function mergeSummary(a: FuzzSummary, b: FuzzSummary): FuzzSummary {
  const byStatus = { ...a.byStatus };
  for (const [k, v] of Object.entries(b.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + v;
  return {
    sent: a.sent + b.sent,
    byStatus,
    failures: [...a.failures, ...b.failures],
    largestErrorBytes: Math.max(a.largestErrorBytes, b.largestErrorBytes),
    largestSuccessRatio: Math.max(a.largestSuccessRatio, b.largestSuccessRatio),
  };
}
