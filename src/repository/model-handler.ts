import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveHandlerConfig, type HandlerConfig } from '../config/handler-config.js';
import type { ModelConfigFile } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import type { Logger } from '../observability/logger.js';
import type { HandlerInfer } from '../runtime/handler/handler-instance.js';
import { HandlerPool } from '../runtime/handler/handler-pool.js';
import { HANDLER_FILE_NAMES, type ModelSource } from './discover.js';
import type { ModelState } from './model-state.js';

/** A model's handler: its code, its lifecycle state and, once READY, its workers. */
export interface ModelHandler {
  readonly file: string;
  readonly config: HandlerConfig;
  state: ModelState;
  reason?: string;
  pool?: HandlerPool;
}

/** The handler file in a model's folder, if there is one. Two (handler.ts and handler.js) is ambiguous. */
export async function findHandlerFile(source: ModelSource): Promise<string | undefined> {
  if (source.kind !== 'folder') return undefined;
  const names = new Set(await readdir(source.dir));
  const found = HANDLER_FILE_NAMES.filter((n) => names.has(n));
  if (found.length > 1) {
    throw new ServingError('CONFIG_INVALID', `${source.dir} has ${found.join(' and ')}; keep one handler file`);
  }
  return found[0] === undefined ? undefined : join(source.dir, found[0]);
}

export interface StartHandlerOptions {
  model: string;
  dir: string;
  /** The folder also holds a graph (so preprocess/postprocess can run around it). */
  hasGraph: boolean;
  configFile: ModelConfigFile;
  /** The router's infer; without one, `ctx.infer` fails with a clear error. */
  infer: HandlerInfer | undefined;
  logger: Logger;
}

/** A handler about to load (LOADING), so the repository shows it while its workers start. */
export function newModelHandler(file: string, configFile: ModelConfigFile): ModelHandler {
  return { file, config: resolveHandlerConfig(configFile.handler), state: 'LOADING' };
}

/** Starts a handler's workers; one that fails to load becomes UNAVAILABLE with its reason, never thrown. */
export async function startModelHandler(handler: ModelHandler, options: StartHandlerOptions): Promise<void> {
  const { model, dir, hasGraph, configFile, logger } = options;
  const { file, config } = handler;
  const infer: HandlerInfer =
    options.infer ??
    (() => Promise.reject(new ServingError('MODEL_NOT_READY', 'this repository has no router for handlers to call models through')));
  const started = performance.now();
  try {
    handler.pool = await HandlerPool.start({
      worker: { model, file, dir, hasGraph, parameters: { ...(configFile.parameters ?? {}) } },
      config,
      infer,
      logger,
    });
    handler.state = 'READY';
    const loadMs = Math.round(performance.now() - started);
    logger.info({ event: 'handler_loaded', model, file, loadMs, instances: config.instanceCount }, `loaded handler of ${model} in ${loadMs} ms`);
  } catch (error) {
    handler.state = 'UNAVAILABLE';
    handler.reason = `handler: ${(error as Error).message}`;
    logger.error({ event: 'handler_unavailable', model, file, reason: handler.reason }, `handler of model '${model}' is unavailable: ${handler.reason}`);
  }
}

/** Stops a handler's workers after their running requests finish. */
export async function unloadModelHandler(handler: ModelHandler): Promise<void> {
  const pool = handler.pool;
  if (pool === undefined) return;
  handler.state = 'UNLOADING';
  handler.pool = undefined;
  await pool.close();
  handler.state = 'UNAVAILABLE';
  handler.reason = 'unloaded';
}
