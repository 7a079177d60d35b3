import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServingError } from '../../errors/serving-error.js';
import type { InflightBudget } from '../../scheduler/inflight-budget.js';
import { collectGarbageSoon } from '../../runtime/release-memory.js';

/** A request holding this much (body and decoded tensors) is outsized: once it is answered, the heap that held it is collected. */
export const OUTSIZED_REQUEST_BYTES = 16 * 1024 * 1024;

/** What one request holds of the budget; given back once, when its connection's answer is done. */
interface Charge {
  bytes: number;
  released: boolean;
}

const charges = new WeakMap<FastifyRequest, { budget: InflightBudget; charge: Charge }>();

/**
 * Memory a request holds at its peak, per body byte: the body, what it is parsed into (a JSON
 * number array is ~8 bytes per 2–9 characters of text), its tensors, the outputs and the encoded
 * answer. Measured with 60 MB FP32 JSON bodies through an identity model (bench/abuse
 * large-bodies): 4 at once raised RSS by 2.7 GB, ~11× the bodies. Binary tensors skip the parse
 * and the text: their body is the tensor.
 */
export const JSON_PEAK_PER_BODY_BYTE = 12;
export const BINARY_PEAK_PER_BODY_BYTE = 4;

/** What a body of `bodyBytes` is expected to hold at its peak. */
export function peakBytesOf(bodyBytes: number, binary: boolean): number {
  return bodyBytes * (binary ? BINARY_PEAK_PER_BODY_BYTE : JSON_PEAK_PER_BODY_BYTE);
}

/** How long a refused client is told to wait: bodies in flight are usually read and answered within a second. */
const RETRY_AFTER_SECONDS = 1;

/** OIP binary tensors announce their JSON header's length; everything else is read as JSON. */
function isBinary(request: FastifyRequest): boolean {
  return request.headers['inference-header-content-length'] !== undefined || request.headers['content-type'] === 'application/octet-stream';
}

/** MEMORY_BUDGET_EXCEEDED (429 / RESOURCE_EXHAUSTED, Retry-After) for a request of `bytes` that does not fit; gRPC uses it too. */
export function budgetRefusal(budget: InflightBudget, bytes: number): ServingError {
  return ServingError.withoutStack(
    'MEMORY_BUDGET_EXCEEDED',
    `the server's memory budget for requests in flight (max_inflight_bytes = ${budget.limitBytes}) is full: requests in flight are expected to hold ${budget.inUseBytes} bytes and this one ${bytes} (${JSON_PEAK_PER_BODY_BYTE}× a JSON body, ${BINARY_PEAK_PER_BODY_BYTE}× a binary one); retry after ${RETRY_AFTER_SECONDS} s`,
    { retryAfterSeconds: RETRY_AFTER_SECONDS },
  );
}

/**
 * Admits each request against the process's in-flight memory budget before its body is read, for
 * the memory it will hold at its peak (`peakBytesOf`). A declared `content-length` is taken at once:
 * when it does not fit, the answer is 429 with `Retry-After` and the body is discarded as it
 * arrives, never buffered. A chunked body is counted as it arrives. The bytes are given back when
 * the answer has been sent or the client went away.
 */
export function admitRequestBytes(app: FastifyInstance, budget: InflightBudget): void {
  // Callback-style hooks: an async one costs a promise and a microtask on every request.
  app.addHook('onRequest', (request, reply, done) => {
    const charge: Charge = { bytes: 0, released: false };
    charges.set(request, { budget, charge });
    reply.raw.once('close', () => {
      charge.released = true;
      budget.release(charge.bytes);
      if (charge.bytes >= OUTSIZED_REQUEST_BYTES) collectGarbageSoon();
    });
    const declared = Number(request.headers['content-length'] ?? 0);
    if (!Number.isFinite(declared) || declared <= 0) return done();
    const peak = peakBytesOf(declared, isBinary(request));
    if (!budget.tryAcquire(peak)) {
      // The body is never buffered: Node discards it as it arrives once the answer is sent. Closing
      // the connection instead would save that reading, but a client still sending its body then gets
      // a broken pipe (EPIPE) instead of the 429 and its Retry-After (measured with fetch).
      return done(budgetRefusal(budget, peak));
    }
    charge.bytes = peak;
    done();
  });
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if (request.headers['content-length'] !== undefined) return done(null, payload);
    const entry = charges.get(request);
    if (entry === undefined) return done(null, payload);
    const { charge } = entry;
    const perByte = peakBytesOf(1, isBinary(request));
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        if (charge.released) return callback(null, chunk);
        const bytes = chunk.length * perByte;
        if (!budget.tryAcquire(bytes)) return callback(budgetRefusal(budget, charge.bytes + bytes));
        charge.bytes += bytes;
        callback(null, chunk);
      },
    });
    done(null, payload.pipe(counter));
  });
}
