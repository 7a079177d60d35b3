import { ModelRepository, type RepositoryIndexEntry } from './repository/model-repository.js';
import { ModelRouter } from './router/model-router.js';
import { ResponseCache } from './scheduler/response-cache.js';
import { silentLogger, type Logger } from './observability/logger.js';
import type { InferenceRequest, InferenceResponse } from './tensor/inference.js';

export interface SlipwayOptions {
  /** Model repository folders, model folders or single .onnx files. */
  models: string | readonly string[];
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
    cacheBytes: number,
  ) {
    this.cache = new ResponseCache(cacheBytes);
    this.router = new ModelRouter(repository, this.cache);
  }

  /** Discovers and loads every model; resolves once each is READY or UNAVAILABLE (with its reason). */
  static async open(options: SlipwayOptions): Promise<Slipway> {
    const logger = options.logger ?? silentLogger();
    const repository = await ModelRepository.open({
      paths: typeof options.models === 'string' ? [options.models] : options.models,
      logger,
      ...(options.cores !== undefined && { cores: options.cores }),
      ...(options.defaultMaxBatchSize !== undefined && { defaultMaxBatchSize: options.defaultMaxBatchSize }),
    });
    return new Slipway(repository, logger, options.strictReadiness ?? false, options.responseCacheBytes ?? 64 * 1024 * 1024);
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

  /** Marks the server as draining (readiness turns false) without stopping anything yet. */
  beginShutdown(): void {
    this.draining = true;
  }

  /** Unloads every model after each instance finishes its running request. */
  async close(): Promise<void> {
    this.draining = true;
    await this.repository.close();
  }
}
