import { z } from 'zod';

/**
 * The `handler:` section of a model's `config.yaml`: how the model's `handler.ts` runs. Every field
 * is optional; a folder with a handler file and no `handler:` section gets the defaults.
 */
export const handlerConfigFileSchema = z.strictObject({
  /** Worker threads running the handler, each with its own `setup()` state. */
  instance_count: z.number().int().positive().max(64).optional(),
  /** Requests one handler worker runs at once (handlers mostly wait on `ctx.infer`, so more than one). */
  max_concurrency: z.number().int().positive().max(10_000).optional(),
  /** Requests waiting for a free slot beyond which the server answers 429 (0 = unbounded). */
  max_queue_size: z.number().int().min(0).optional(),
  /** A request still running after this long answers 504; a worker whose thread it blocks is restarted. */
  timeout_ms: z.number().int().positive().max(3_600_000).optional(),
  /** Largest uploaded file (multipart part or raw body) a predict request may carry; 413 beyond. */
  max_file_bytes: z.number().int().positive().optional(),
  /** Most file parts in one multipart request. */
  max_files: z.number().int().positive().max(1000).optional(),
  /**
   * The models this handler calls with `ctx.infer` (a pipeline's parts, as a Triton ensemble lists
   * its steps). The UI shows them as parts of this model rather than as demos of their own, and
   * `slipway serve` lists them on the model's line.
   */
  uses: z.array(z.string().min(1)).max(64).optional(),
});

export type HandlerConfigFile = z.infer<typeof handlerConfigFileSchema>;

/** A handler's settings once defaults are filled in. */
export interface HandlerConfig {
  instanceCount: number;
  maxConcurrency: number;
  maxQueueSize: number;
  timeoutMs: number;
  maxFileBytes: number;
  maxFiles: number;
  /** The models the handler calls (config `uses`), as declared. */
  uses: readonly string[];
}

export const HANDLER_DEFAULTS: Readonly<HandlerConfig> = Object.freeze({
  // One worker: handler code mostly waits on models, which have their own instances.
  instanceCount: 1,
  maxConcurrency: 16,
  maxQueueSize: 1024,
  timeoutMs: 30_000,
  maxFileBytes: 32 * 1024 * 1024,
  maxFiles: 16,
  uses: [],
});

export function resolveHandlerConfig(file: HandlerConfigFile | undefined): HandlerConfig {
  return {
    instanceCount: file?.instance_count ?? HANDLER_DEFAULTS.instanceCount,
    maxConcurrency: file?.max_concurrency ?? HANDLER_DEFAULTS.maxConcurrency,
    maxQueueSize: file?.max_queue_size ?? HANDLER_DEFAULTS.maxQueueSize,
    timeoutMs: file?.timeout_ms ?? HANDLER_DEFAULTS.timeoutMs,
    maxFileBytes: file?.max_file_bytes ?? HANDLER_DEFAULTS.maxFileBytes,
    maxFiles: file?.max_files ?? HANDLER_DEFAULTS.maxFiles,
    uses: file?.uses ?? HANDLER_DEFAULTS.uses,
  };
}
