import { ModelRepository, type RepositoryIndexEntry } from './repository/model-repository.js';
import { ModelRouter } from './router/model-router.js';
import type { ResponseCache } from './scheduler/response-cache.js';
import { MemoryResponseCache } from './scheduler/memory-response-cache.js';
import { parseResponseCacheSetting } from './config/response-cache-url.js';
import { Metrics } from './observability/metrics.js';
import { PredictionLog, type PredictionLogOptions } from './observability/prediction-log.js';
import { silentLogger, type Logger } from './observability/logger.js';
import type { InferenceRequest, InferenceResponse } from './tensor/inference.js';

export interface SlipwayOptions {
  /** Model repository folders, model folders or single .onnx files. */
  models: string | readonly string[];
  /** Serve the one model `models` holds under this name (as KServe's runtimes are told the InferenceService's name). */
  modelName?: string;
  /** A pino logger; silent when absent. */
  logger?: Logger;
  /** Cores to plan instance layouts for (default: the machine's). */
  cores?: number;
  /** max_batch_size for graphs that can batch when their config is silent (default 64). */
  defaultMaxBatchSize?: number;
  /**
   * Triton's strict readiness: the server reports ready only when every model is READY. Off by
   * default, so one broken model does not take the healthy ones out of a load balancer.
   */
  strictReadiness?: boolean;
  /** Bytes the server-wide response cache may hold (default 64 MiB; 0 turns it off). Models opt in with `response_cache { enable: true }`. */
  responseCacheBytes?: number;
  /**
   * Where answers are cached: `memory` (default: an LRU of `responseCacheBytes` in this process),
   * `redis://host:port[/db][?ttl=3600&timeout_ms=50&prefix=slipway:cache:]` (shared by processes and
   * replicas), or a `ResponseCache` of your own.
   */
  responseCache?: string | ResponseCache;
  /** Prometheus metrics (a registry of Slipway's own); `false` turns them off. Default: on. */
  metrics?: Metrics | false;
  /** Sample predictions into a store for monitoring (off by default). */
  predictionLog?: Omit<PredictionLogOptions, 'logger' | 'metrics'>;
}

/**
 * Slipway as a library: load a model repository into this process and call it, or hand it to
 * `createHttpServer` / the `oipRoutes` Fastify plugin. Inference runs in worker threads, so calling
 * `infer` never blocks your server's event loop.
 *
 * @example
 * import { Slipway } from 'slipway';
 * const slipway = await Slipway.open({ models: './models' });
 * const { outputs } = await slipway.infer({
 *   model: 'digits',
 *   inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Float32Array(64) }],
 * });
 * await slipway.close();
 */
export class Slipway {
  readonly router: ModelRouter;
  readonly cache: ResponseCache;
  private draining = false;

  private constructor(
    readonly repository: ModelRepository,
    readonly logger: Logger,
    private readonly strictReadiness: boolean,
    cache: ResponseCache,
    router: ModelRouter | undefined,
    /** Prometheus metrics, unless turned off. */
    readonly metrics: Metrics | undefined,
    private readonly predictionLog: PredictionLog | undefined,
  ) {
    this.cache = cache;
    this.router = router ?? new ModelRouter(repository, cache);
    if (metrics !== undefined) {
      metrics.setCacheBytesSource(() => cache.bytes);
      metrics.addModelSource(() =>
        repository.versions().map((v) => ({
          model: v.model,
          version: String(v.version),
          state: v.state,
          ...(v.loadMs !== undefined && { loadSeconds: v.loadMs / 1000 }),
          queueDepth: v.scheduler?.queueDepth ?? 0,
          queueCapacity: v.config?.scheduling.maxQueueSize ?? 0,
          inflight: v.scheduler?.inflight ?? 0,
          instances: v.pool?.size ?? 0,
        })),
      );
    }
  }

  /** Discovers and loads every model; resolves once each is READY or UNAVAILABLE (with its reason). */
  static async open(options: SlipwayOptions): Promise<Slipway> {
    const logger = options.logger ?? silentLogger();
    const metrics = options.metrics === false ? undefined : (options.metrics ?? new Metrics());
    const cache = await openResponseCache(options, logger, metrics);
    const predictionLog =
      options.predictionLog === undefined || options.predictionLog.sampleRate === 0
        ? undefined
        : await PredictionLog.open({ ...options.predictionLog, logger, ...(metrics !== undefined && { metrics }) });
    let router: ModelRouter | undefined;
    const repository = await ModelRepository.open({
      paths: typeof options.models === 'string' ? [options.models] : options.models,
      logger,
      ...(metrics !== undefined && { metrics }),
      ...(options.cores !== undefined && { cores: options.cores }),
      ...(options.modelName !== undefined && { modelName: options.modelName }),
      ...(options.defaultMaxBatchSize !== undefined && { defaultMaxBatchSize: options.defaultMaxBatchSize }),
      // Handlers' ctx.infer goes through this same router, so batching, the cache and statistics apply.
      connectHandlers: (loading) => {
        router = new ModelRouter(loading, cache, predictionLog);
        return (request) => router!.infer(request);
      },
    });
    return new Slipway(repository, logger, options.strictReadiness ?? false, cache, router ?? new ModelRouter(repository, cache, predictionLog), metrics, predictionLog);
  }

  /**
   * Runs one inference. Input arrays are copied to the worker, so they stay yours; pass
   * `transferInputs: true` to move them instead (they become detached).
   */
  infer(request: InferenceRequest): Promise<InferenceResponse> {
    return this.router.infer(request);
  }

  /** Why the server is not ready, or undefined when it is. */
  notReadyReason(): string | undefined {
    if (this.draining) return 'server is shutting down';
    if (!this.repository.settled()) return 'models are still loading';
    if (this.strictReadiness) {
      const bad = this.repository.index().filter((r) => r.state !== 'READY');
      if (bad.length > 0) return `strict readiness: ${bad.map((r) => `${r.name} is ${r.state}`).join(', ')}`;
    }
    return undefined;
  }

  index(): RepositoryIndexEntry[] {
    return this.repository.index();
  }

  /**
   * Loads (or reloads) a model from the repository folders, as Triton's repository load does; the
   * response cache is emptied, since a reloaded version may answer differently.
   *
   * @example
   * await slipway.loadModel('digits');
   */
  async loadModel(name: string): Promise<void> {
    try {
      await this.repository.loadModel(name);
    } finally {
      this.cache.clear();
    }
  }

  /** Unloads a model after its queued and running requests finish; new ones get MODEL_NOT_READY. */
  async unloadModel(name: string): Promise<void> {
    await this.repository.unloadModel(name);
    this.cache.clear();
  }

  /** True once shutdown began: readiness is false and answers close their connection. */
  get shuttingDown(): boolean {
    return this.draining;
  }

  /** Marks the server as draining (readiness turns false) without stopping anything yet. */
  beginShutdown(): void {
    this.draining = true;
  }

  /** Unloads every model after each instance finishes its running request. */
  async close(): Promise<void> {
    this.draining = true;
    await this.repository.close();
    // After the models: the last requests' predictions are flushed, not lost.
    await this.predictionLog?.close();
    await this.cache.close();
  }
}

async function openResponseCache(options: SlipwayOptions, logger: Logger, metrics: Metrics | undefined): Promise<ResponseCache> {
  if (typeof options.responseCache === 'object') return options.responseCache;
  const setting = parseResponseCacheSetting(options.responseCache ?? 'memory');
  if (setting.kind === 'memory') return new MemoryResponseCache(options.responseCacheBytes ?? 64 * 1024 * 1024);
  // Imported only when asked for, like the Redis client it loads.
  const { RedisResponseCache } = await import('./scheduler/redis-response-cache.js');
  return RedisResponseCache.open(setting, { logger, ...(metrics !== undefined && { metrics }) });
}
