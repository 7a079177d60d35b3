import { Worker } from 'node:worker_threads';
import type { Tensor } from '../tensor/tensor.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { FromPredictionWriter, PredictionLogWorkerData, PredictionRecord, ToPredictionWriter } from './prediction-log-messages.js';

export interface PredictionLogOptions {
  /** `sqlite:PATH` (default `sqlite:./predictions-log.db`), `postgres://…` or `jsonl:PATH`. */
  store: string;
  /** Fraction of successful requests logged, 0..1. */
  sampleRate: number;
  /** Rows the store keeps; the oldest go beyond (default 100 000). */
  maxRows?: number;
  /** Records waiting for the writer; beyond, new ones are dropped and counted (default 1000). */
  maxQueue?: number;
  flushIntervalMs?: number;
  logger?: Logger;
  metrics?: Metrics;
}

/**
 * Samples predictions (inputs, outputs, model version, latency, time) into a store for monitoring
 * and retraining, off the request path: records go to a writer thread through a bounded queue, so
 * a slow or full store drops records (counted in `slipway_prediction_log_dropped_total`) instead of
 * slowing or failing requests.
 *
 * @example
 * const log = await PredictionLog.open({ store: 'sqlite:./predictions-log.db', sampleRate: 0.1 });
 * if (log.sample()) log.record({ time: Date.now(), model: 'digits', version: '1', latencyMs: 2, inputs, outputs });
 */
export class PredictionLog {
  private queued = 0;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    private readonly options: PredictionLogOptions,
  ) {
    worker.on('message', (message: FromPredictionWriter) => {
      if (message.type === 'written') {
        this.queued -= message.count;
        options.metrics?.predictionLogged(message.count);
      } else if (message.type === 'failed') {
        this.queued -= message.count;
        options.metrics?.predictionDropped('store_error', message.count);
        options.logger?.warn({ event: 'prediction_log_failed', dropped: message.count, err: message.message }, 'prediction log write failed');
      }
    });
    worker.on('error', (error) => options.logger?.error({ event: 'prediction_log_crashed', err: error }, 'prediction log writer crashed'));
    worker.unref();
  }

  static async open(options: PredictionLogOptions): Promise<PredictionLog> {
    if (!(options.sampleRate >= 0 && options.sampleRate <= 1)) throw new Error(`prediction log sample rate ${options.sampleRate} must be within 0..1`);
    const data: PredictionLogWorkerData = {
      store: options.store,
      maxRows: options.maxRows ?? 100_000,
      flushIntervalMs: options.flushIntervalMs ?? 200,
    };
    const worker = new Worker(new URL('./prediction-log-worker.js', import.meta.url), { workerData: data });
    const first = await new Promise<FromPredictionWriter>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (first.type === 'failed') {
      await worker.terminate();
      throw new Error(`prediction log: ${first.message}`);
    }
    // The writer sends 'ready' after a failed open as well; wait for it so the port is clean.
    return new PredictionLog(worker, options);
  }

  /** Whether this request should be logged (decide before its inputs are handed to a worker). */
  sample(): boolean {
    return !this.closed && this.options.sampleRate > 0 && Math.random() < this.options.sampleRate;
  }

  /** Queues a record; the tensors are copied now (structured clone), so callers may move them after. */
  record(record: PredictionRecord): void {
    if (this.closed) return;
    if (this.queued >= (this.options.maxQueue ?? 1000)) {
      this.options.metrics?.predictionDropped('queue_full');
      return;
    }
    try {
      this.worker.postMessage({ type: 'record', record } satisfies ToPredictionWriter);
    } catch (error) {
      // A record that cannot be cloned (a tensor someone moved away) is dropped, never thrown at a request.
      this.options.metrics?.predictionDropped('store_error');
      this.options.logger?.warn({ event: 'prediction_log_failed', err: error }, 'a prediction could not be queued for the log');
      return;
    }
    this.queued++;
  }

  /** Flushes what is queued and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.worker.ref();
    const closed = new Promise<void>((resolve) => {
      this.worker.on('message', (m: FromPredictionWriter) => m.type === 'closed' && resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.postMessage({ type: 'close' } satisfies ToPredictionWriter);
    await closed;
    await this.worker.terminate();
  }
}

/** Copies tensors whose buffers may be moved away before the record is written. */
export function snapshotTensors(tensors: readonly Tensor[]): Tensor[] {
  return tensors.map((t) => ({ ...t, shape: [...t.shape], data: t.data.slice() as Tensor['data'] }));
}
