import { SlipwayClientError } from '../../client/client-error.js';
import { SlipwayHttpClient } from '../../client/http-client.js';
import { ERROR_CODES, type ErrorCode } from '../../errors/codes.js';
import { ServingError } from '../../errors/serving-error.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { GraphRuntime } from '../../repository/model-graph.js';
import type { RemoteEndpoint } from '../../repository/graph/step-catalog.js';
import type { HandlerPool } from '../../runtime/handler/handler-pool.js';
import type { ModelRouter } from '../model-router.js';
import { GraphExecutor } from './graph-executor.js';
import { remoteModelConfig } from './remote-model-config.js';

/** How long a graph waits for a remote server's metadata when it loads. */
const METADATA_TIMEOUT_MS = 5000;
/** A remote step's timeout when neither the step nor the request sets one. */
const DEFAULT_REMOTE_TIMEOUT_MS = 30_000;

/**
 * What the repository needs to run graphs, backed by the router: local steps resolve and infer
 * through it, remote steps go through Slipway's OIP REST client (binary tensors, so a remote step
 * costs one encode and one decode, and 64-bit integers stay exact).
 *
 * @example
 * const runtime = graphRuntime(router, { logger });
 */
export function graphRuntime(
  router: ModelRouter,
  options: {
    metrics?: Metrics;
    logger: Logger;
    random?: () => number;
    /** The READY handler pool of a model, for JSON handler steps. */
    handlers?: (model: string) => HandlerPool | undefined;
  },
): GraphRuntime {
  const clients = new Map<string, SlipwayHttpClient>();
  // No retries: a step's failure is the graph's to handle (Soft or Hard), within the step's timeout.
  const client = (baseUrl: string): SlipwayHttpClient => {
    let found = clients.get(baseUrl);
    if (found === undefined) {
      found = new SlipwayHttpClient(baseUrl, { retries: 0, timeoutMs: DEFAULT_REMOTE_TIMEOUT_MS });
      clients.set(baseUrl, found);
    }
    return found;
  };
  return {
    stepConfig: (model, version) => router.resolve(model, version).config,
    remoteConfig: async (endpoint: RemoteEndpoint) => {
      const metadataClient = new SlipwayHttpClient(endpoint.baseUrl, { retries: 0, timeoutMs: METADATA_TIMEOUT_MS });
      const metadata = await metadataClient.modelMetadata(endpoint.model, endpoint.version);
      // max_batch_size is in Triton's config extension; a server without it is taken not to batch.
      const config = await metadataClient.modelConfig(endpoint.model, endpoint.version).catch(() => undefined);
      return remoteModelConfig(endpoint, metadata, config?.max_batch_size);
    },
    scheduler: (plan, stats) =>
      new GraphExecutor(plan, stats, {
        infer: (request) => router.infer(request),
        remote: async (step, inputs, { parameters, timeoutMs, requestId }) => {
          const { baseUrl, model, version } = step.target;
          try {
            const result = await client(baseUrl).infer(model, inputs, {
              ...(version !== undefined && { version }),
              ...(step.outputs !== undefined && { outputs: step.outputs }),
              parameters,
              ...(timeoutMs !== undefined && { timeoutMs: Math.max(1, Math.ceil(timeoutMs)) }),
              // The remote server logs the step under the graph request's id (it echoes it back too).
              ...(requestId !== undefined && { requestId }),
            });
            return result.outputs;
          } catch (error) {
            throw fromClientError(error, `${baseUrl} (model '${model}')`);
          }
        },
        handler: (model, body, { requestId, routingKey }) => {
          const pool = options.handlers?.(model);
          if (pool === undefined) return Promise.reject(new ServingError('MODEL_NOT_READY', `the handler of model '${model}' is not running`));
          return pool.predict({ kind: 'json', body }, requestId, routingKey === undefined ? undefined : { key: routingKey });
        },
        logger: options.logger,
        ...(options.metrics !== undefined && { metrics: options.metrics }),
        ...(options.random !== undefined && { random: options.random }),
      }),
  };
}

/** A remote server's error as this server's: its code when the registry knows it, else REMOTE_STEP_FAILED. */
function fromClientError(error: unknown, where: string): ServingError {
  if (!(error instanceof SlipwayClientError)) return new ServingError('REMOTE_STEP_FAILED', `${where}: ${(error as Error).message}`, { cause: error });
  const known = error.code in ERROR_CODES ? (error.code as ErrorCode) : error.code === 'UNAVAILABLE' ? 'REMOTE_STEP_FAILED' : undefined;
  return new ServingError(known ?? 'REMOTE_STEP_FAILED', `${where} answered${error.status !== undefined ? ` ${error.status}` : ''}: ${error.message}`, { cause: error });
}
