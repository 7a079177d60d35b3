import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ServingError } from '../../../errors/serving-error.js';
import type { InferenceRequest, InferenceResponse } from '../../../tensor/inference.js';
import { forTransfer } from '../../../tensor/transfer.js';
import { decodeInferRequest, encodeInferResponse, parseJsonBody } from '../oip-json.js';
import type { FromCodec, ToCodec } from './codec-messages.js';

const WORKER_URL = new URL('./codec-worker.js', import.meta.url);

export interface JsonCodecOptions {
  /**
   * Bodies at least this large are parsed on a codec thread. Measured (bench/codec-threshold.ts): the
   * hop costs ~25 µs, inline decoding ~6 µs per KiB, so from ~16 KiB the round trip is no slower
   * than parsing inline and the main thread is free meanwhile.
   */
  decodeThresholdBytes?: number;
  /** Responses with at least this many elements are written on a codec thread. */
  encodeThresholdElements?: number;
  /** Codec threads, started on first use (default: one per core, at most 2). */
  threads?: number;
}

interface Slot {
  worker: Worker;
  busy: number;
  /** Took an outsized message: no new work, ended once idle (its heap grew to the message's size and V8 keeps it). */
  retiring: boolean;
}

/**
 * A codec thread that parses or prints a message this large is ended once it is idle, and a fresh
 * one starts on the next large message (~30 ms, once per outsized request). V8 keeps the old space
 * a 60 MB body grew to long after the arrays in it are garbage (measured: +400 MB RSS per thread
 * after 60 MB requests); ending the thread is the one way to give all of it back.
 */
const RETIRE_AFTER_BYTES = 16 * 1024 * 1024;
const RETIRE_AFTER_ELEMENTS = 2 * 1024 * 1024;

interface Pending {
  slot: Slot;
  resolve: (value: FromCodec) => void;
  reject: (error: Error) => void;
}

/**
 * Decides, by size, where OIP JSON is decoded and encoded: small messages inline on the main
 * thread, large ones on codec threads so the event loop keeps answering (health checks, other
 * requests) while megabytes of numbers are parsed or printed.
 */
export class JsonCodec {
  private readonly decodeThreshold: number;
  private readonly encodeThreshold: number;
  private readonly threads: number;
  private readonly workers: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(options: JsonCodecOptions = {}) {
    this.decodeThreshold = options.decodeThresholdBytes ?? 16 * 1024;
    this.encodeThreshold = options.encodeThresholdElements ?? 4 * 1024;
    this.threads = options.threads ?? Math.max(1, Math.min(2, availableParallelism()));
  }

  async decode(body: Buffer | undefined, model: string, version?: string): Promise<InferenceRequest> {
    if (body === undefined || body.length < this.decodeThreshold) return decodeInferRequest(parseJsonBody(body), model, version);
    // Large bodies are concatenated into memory of their own, which can move to the codec thread as
    // is; a view into shared memory (Node's buffer pool) is copied first.
    const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const own = whole ? new Uint8Array(body.buffer, 0, body.byteLength) : Uint8Array.from(body);
    const message: ToCodec = { type: 'decode', id: 0, body: own, model, ...(version !== undefined && { version }) };
    const reply = await this.call(message, [own.buffer], own.byteLength >= RETIRE_AFTER_BYTES);
    if (reply.type !== 'decoded') throw new Error(`codec answered ${reply.type} to decode`);
    return reply.request;
  }

  async encode(response: InferenceResponse): Promise<Buffer | string> {
    let elements = 0;
    for (const t of response.outputs) elements += t.data.length;
    if (elements < this.encodeThreshold) return encodeInferResponse(response);
    // The outputs are not used again here, so their buffers move to the codec thread (batch slices
    // are compacted first, so no thread ever receives a whole batch's buffer per request).
    const { tensors, transfer } = forTransfer(response.outputs, true);
    const reply = await this.call({ type: 'encode', id: 0, response: { ...response, outputs: tensors } }, transfer, elements >= RETIRE_AFTER_ELEMENTS);
    if (reply.type !== 'encoded') throw new Error(`codec answered ${reply.type} to encode`);
    return Buffer.from(reply.body.buffer, reply.body.byteOffset, reply.body.byteLength);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map(({ worker }) => worker.terminate()));
    for (const p of this.pending.values()) p.reject(new ServingError('SERVER_SHUTTING_DOWN', 'server is shutting down'));
    this.pending.clear();
  }

  private call(message: ToCodec, transfer: ArrayBuffer[], outsized: boolean): Promise<FromCodec> {
    const id = this.nextId++;
    message.id = id;
    const slot = this.pick();
    if (outsized) this.retire(slot);
    // Idle codec threads must not keep the process alive, busy ones must (a pending decode is work).
    if (slot.busy++ === 0) slot.worker.ref();
    const done = (): void => {
      if (--slot.busy > 0) return;
      if (slot.retiring) void slot.worker.terminate();
      else slot.worker.unref();
    };
    return new Promise<FromCodec>((resolve, reject) => {
      this.pending.set(id, { slot, resolve, reject });
      slot.worker.postMessage(message, transfer);
    }).then(
      (reply) => {
        done();
        if (reply.type === 'failed') {
          const cause = reply.stack === undefined ? undefined : new Error(`JSON codec thread: ${reply.stack}`);
          throw new ServingError(reply.code, reply.message, cause === undefined ? undefined : { cause });
        }
        return reply;
      },
      (error: unknown) => {
        done();
        throw error;
      },
    );
  }

  private retire(slot: Slot): void {
    slot.retiring = true;
    const index = this.workers.indexOf(slot);
    if (index >= 0) this.workers.splice(index, 1);
  }

  private pick(): Slot {
    const idle = this.workers.find((w) => w.busy === 0);
    if (idle !== undefined) return idle;
    if (this.workers.length < this.threads) return this.spawn();
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL);
    const slot: Slot = { worker, busy: 0, retiring: false };
    worker.on('message', (reply: FromCodec) => {
      const pending = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      pending?.resolve(reply);
    });
    const fail = (error: Error): void => {
      // A dead codec thread fails what it held; the next large message starts a fresh one.
      const index = this.workers.indexOf(slot);
      if (index >= 0) this.workers.splice(index, 1);
      for (const [id, p] of this.pending) {
        if (p.slot !== slot) continue;
        p.reject(new ServingError('INTERNAL', `JSON codec thread failed: ${error.message}`, { cause: error }));
        this.pending.delete(id);
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => code !== 0 && !(slot.retiring && slot.busy === 0) && fail(new Error(`exited with code ${code}`)));
    worker.unref();
    this.workers.push(slot);
    return slot;
  }
}
