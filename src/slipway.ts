import { ModelRepository, type RepositoryIndexEntry } from './repository/model-repository.js';
import { LogLimiter } from './observability/log-limiter.js';
import { RepositoryPoller } from './repository/repository-poller.js';
import { ModelRouter, type RouterTraffic } from './router/model-router.js';
import { graphRuntime } from './router/graph/graph-runtime.js';
import { MemoryRolloutStore } from './router/memory-rollout-store.js';
import { openRolloutStore } from './router/open-rollout-store.js';
import { RolloutController, type RolloutModels } from './router/rollout-controller.js';
import type { RolloutStore } from './router/rollout-store.js';
import { ShadowMirror, type ShadowComparator } from './router/shadow.js';
import type { Clock } from './scheduler/clock.js';
import type { ResponseCache } from './scheduler/response-cache.js';
import { MemoryResponseCache } from './scheduler/memory-response-cache.js';
import { RawAnswerCache } from './scheduler/raw-answer-cache.js';
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
  /** Request log lines per second and protocol at info; the rest are counted, not written (default 100). */
  requestLogPerSecond?: number;
  /** Cores to plan instance layouts for (default: the machine's). */
  cores?: number;
  /** max_batch_size for graphs that can batch when their config is silent (default 64). */
  defaultMaxBatchSize?: number;
  /**
   * The longest one batch may block the event loop for a model with `instance_group.placement: auto`
   * to run on the main thread (default 1000 µs, measured at load on the model's largest batch).
   */
  inlineBudgetUs?: number;
  /**
   * Admission by expected queue wait for models whose config does not set
   * `dynamic_batching.max_queue_wait_microseconds`: µs, 0 for no bound, or `auto` (the default: one
   * batch's measured service time).
   */
  defaultMaxQueueWaitUs?: number | 'auto';
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
  /** Traffic policies and canary rollouts: where their state lives, and how often replicas re-read it. */
  rollouts?: RolloutOptions;
  /**
   * Watch the model paths every this many milliseconds and load what appears, reload what changes
   * and unload what disappears (Triton's POLL mode). Off when absent.
   */
  pollIntervalMs?: number;
}

export interface RolloutOptions {
  /**
   * A store, or its URL: `sqlite:PATH` or `postgres://…[?schema=name]` (opened here, closed with
   * Slipway). Default: in memory, so policies and rollouts end with the process.
   */
  store?: string | RolloutStore;
  /** For a SQLite URL: create the file at once (default) or only when something is first stored. */
  createStore?: 'at-open' | 'on-first-write';
  /** How often the store is re-read (default 1000 ms): replicas sharing a store agree within this. */
  syncIntervalMs?: number;
  /** Timers and wall time for the controller (tests use fake ones). */
  clock?: Clock;
  now?: () => number;
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
  /**
   * Encoded HTTP answers of models with `response_cache`, looked up from the raw request bytes
   * before decoding (a quarter of `responseCacheBytes`, in this process; off when the cache is).
   */
  readonly rawAnswers: RawAnswerCache;
  /** Traffic policies and rollouts (`/v2/models/{m}/traffic`, `/v2/models/{m}/rollout`). */
  readonly rollouts: RolloutController;
  /**
   * Errors a client can cause at will (503, 504: `timeout: 1`, an unload, a crash): at most one line
   * per error code per 10 s, at warn and without a stack; the rest are counted in
   * `slipway_log_lines_suppressed_total`.
   */
  readonly errorLogLimiter: LogLimiter;
  /** Request lines at info: at most SLIPWAY_REQUEST_LOG_PER_SECOND (default 100) per second, per protocol. */
  readonly requestLogLimiter: LogLimiter;
  private draining = false;

  private constructor(
    readonly repository: ModelRepository,
    readonly logger: Logger,
    private readonly strictReadiness: boolean,
    cache: ResponseCache,
    router: ModelRouter,
    /** Prometheus metrics, unless turned off. */
    readonly metrics: Metrics | undefined,
    private readonly predictionLog: PredictionLog | undefined,
    rollouts: RolloutController,
    private readonly ownedStore: RolloutStore | undefined,
    private readonly poller: RepositoryPoller | undefined,
    requestLogPerSecond: number,
    rawAnswerBytes: number,
  ) {
    this.cache = cache;
    this.rawAnswers = new RawAnswerCache(cache.enabled ? rawAnswerBytes : 0);
    this.router = router;
    this.rollouts = rollouts;
    const onSuppressed = (kind: string): void => metrics?.logLineSuppressed(kind);
    this.errorLogLimiter = new LogLimiter({ linesPerInterval: 1, intervalMs: 10_000, onSuppressed });
    this.requestLogLimiter = new LogLimiter({ linesPerInterval: requestLogPerSecond, intervalMs: 1000, onSuppressed: () => onSuppressed('request') });
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
    const rolloutOptions = options.rollouts ?? {};
    // The store (and its database driver) opens while the models load, not before they start.
    const opening =
      typeof rolloutOptions.store === 'string' ? openRolloutStore(rolloutOptions.store, { create: rolloutOptions.createStore ?? 'at-open' }) : undefined;
    // Its failure is the one reported, below; until then it must not count as unhandled.
    opening?.catch(() => undefined);
    // The router needs the controller and the controller the repository, which needs the router
    // (handlers call models through it): these late-bound references close the circle.
    let controller: RolloutController | undefined;
    let loaded: ModelRepository | undefined;
    const traffic: RouterTraffic = {
      director: {
        policy: (model) => controller?.policy(model),
        observe: (model, version, ok, latencyMs) => controller?.observe(model, version, ok, latencyMs),
      },
      mirror: new ShadowMirror({
        logger,
        ...(metrics !== undefined && { metrics }),
        ...(predictionLog !== undefined && { predictionLog }),
        onOutcome: (model, version, outcome) => controller?.observeShadow(model, version, outcome),
        comparatorFor: (model) => handlerComparator(loaded, model),
      }),
    };
    let router: ModelRouter | undefined;
    const routerFor = (loading: ModelRepository): ModelRouter => (router ??= new ModelRouter(loading, cache, predictionLog, traffic));
    // A store opened here is closed here when the models cannot be served (a bad path, say).
    const repository = await ModelRepository.open({
      paths: typeof options.models === 'string' ? [options.models] : options.models,
      logger,
      ...(metrics !== undefined && { metrics }),
      ...(options.cores !== undefined && { cores: options.cores }),
      ...(options.modelName !== undefined && { modelName: options.modelName }),
      ...(options.defaultMaxBatchSize !== undefined && { defaultMaxBatchSize: options.defaultMaxBatchSize }),
      ...(options.inlineBudgetUs !== undefined && { inlineBudgetUs: options.inlineBudgetUs }),
      ...(options.defaultMaxQueueWaitUs !== undefined && { defaultMaxQueueWaitUs: options.defaultMaxQueueWaitUs }),
      // Handlers' ctx.infer and graphs' steps go through this same router, so batching, the cache
      // and statistics apply to them.
      connectHandlers: (loading) => {
        const shared = routerFor(loading);
        return (request) => shared.infer(request);
      },
      connectGraphs: (loading) =>
        graphRuntime(routerFor(loading), {
          logger,
          ...(metrics !== undefined && { metrics }),
          handlers: (model) => {
            const handler = loading.get(model)?.handler;
            return handler?.state === 'READY' ? handler.pool : undefined;
          },
        }),
    }).catch(async (error: unknown) => {
      await (await opening?.catch(() => undefined))?.close();
      throw error;
    });
    const ownedStore = await opening?.catch(async (error: unknown) => {
      await repository.close();
      throw error;
    });
    const store = ownedStore ?? (typeof rolloutOptions.store === 'object' ? rolloutOptions.store : new MemoryRolloutStore());
    loaded = repository;
    controller = await RolloutController.open({
      store,
      models: rolloutModels(repository),
      logger,
      ...(metrics !== undefined && { metrics }),
      ...(rolloutOptions.syncIntervalMs !== undefined && { syncIntervalMs: rolloutOptions.syncIntervalMs }),
      ...(rolloutOptions.clock !== undefined && { clock: rolloutOptions.clock }),
      ...(rolloutOptions.now !== undefined && { now: rolloutOptions.now }),
    });
    let slipway: Slipway | undefined;
    const poller =
      options.pollIntervalMs === undefined
        ? undefined
        : new RepositoryPoller({
            paths: typeof options.models === 'string' ? [options.models] : options.models,
            intervalMs: options.pollIntervalMs,
            load: (name) => slipway!.loadModel(name),
            unload: (name) => slipway!.unloadModel(name),
            logger,
          });
    slipway = new Slipway(
      repository,
      logger,
      options.strictReadiness ?? false,
      cache,
      router ?? new ModelRouter(repository, cache, predictionLog, traffic),
      metrics,
      predictionLog,
      controller,
      ownedStore,
      poller,
      options.requestLogPerSecond ?? 100,
      Math.floor((options.responseCacheBytes ?? DEFAULT_RESPONSE_CACHE_BYTES) / 4),
    );
    await poller?.start();
    return slipway;
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
      this.rawAnswers.clear();
      if (this.repository.get(name) !== undefined) this.rollouts.modelChanged(name);
    }
  }

  /** Unloads a model after its queued and running requests finish; new ones get MODEL_NOT_READY. */
  async unloadModel(name: string): Promise<void> {
    await this.repository.unloadModel(name);
    this.cache.clear();
    this.rawAnswers.clear();
    this.rollouts.modelChanged(name);
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
    this.poller?.stop();
    await this.poller?.idle();
    // Hands this replica's rollouts back at once, so a restart or another replica resumes them.
    await this.rollouts.close();
    await this.repository.close();
    // After the models: the last requests' predictions are flushed, not lost.
    await this.predictionLog?.close();
    await this.ownedStore?.close();
    await this.cache.close();
  }
}

/** The repository as the rollout controller sees it. */
function rolloutModels(repository: ModelRepository): RolloutModels {
  return {
    names: () => repository.names(),
    versions: (model) => {
      const entry = repository.get(model);
      return entry === undefined ? undefined : new Map([...entry.versions].map(([version, v]) => [version, v.state]));
    },
    declared: (model) => {
      const file = repository.get(model)?.configFile;
      return file === undefined ? undefined : { ...(file.traffic !== undefined && { traffic: file.traffic }), ...(file.rollout !== undefined && { rollout: file.rollout }) };
    },
  };
}

/** The model's handler `compare`, when it has one: shadow answers are judged on its worker. */
function handlerComparator(repository: ModelRepository | undefined, model: string): ShadowComparator | undefined {
  const pool = repository?.get(model)?.handler?.pool;
  if (pool === undefined || !pool.description.compares) return undefined;
  return async (primary, shadow) => {
    const verdict = await pool.compare(primary, shadow);
    return { agree: verdict.agree, maxAbsDiff: verdict.difference ?? null };
  };
}

const DEFAULT_RESPONSE_CACHE_BYTES = 64 * 1024 * 1024;

async function openResponseCache(options: SlipwayOptions, logger: Logger, metrics: Metrics | undefined): Promise<ResponseCache> {
  if (typeof options.responseCache === 'object') return options.responseCache;
  const setting = parseResponseCacheSetting(options.responseCache ?? 'memory');
  if (setting.kind === 'memory') return new MemoryResponseCache(options.responseCacheBytes ?? DEFAULT_RESPONSE_CACHE_BYTES);
  // Imported only when asked for, like the Redis client it loads.
  const { RedisResponseCache } = await import('./scheduler/redis-response-cache.js');
  return RedisResponseCache.open(setting, { logger, ...(metrics !== undefined && { metrics }) });
}
