import { ServingError } from '../errors/serving-error.js';
import type { ModelRepository, ModelVersion } from '../repository/model-repository.js';
import { snapshotTensors, type PredictionLog } from '../observability/prediction-log.js';
import type { ResponseCache } from '../scheduler/response-cache.js';
import type { InferenceRequest, InferenceResponse } from '../tensor/inference.js';
import { validateRequest } from './validate-request.js';

/** A READY version together with its config, as `resolve` hands it out. */
export type ReadyVersion = ModelVersion & Required<Pick<ModelVersion, 'config' | 'pool' | 'scheduler'>>;

const nsSince = (startMs: number): number => (performance.now() - startMs) * 1e6;

/**
 * Finds the model version a request addresses and sends the request to it. Knows nothing of HTTP
 * or JSON: every protocol adapter calls the same `infer`.
 */
export class ModelRouter {
  /** @param cache server-wide response cache; models opt in with `response_cache { enable: true }`. */
  constructor(
    private readonly repository: ModelRepository,
    private readonly cache?: ResponseCache,
    private readonly predictionLog?: PredictionLog,
  ) {}

  /** The version a request for (model, version?) goes to: the given one, or the newest READY one. */
  resolve(model: string, version?: string): ReadyVersion {
    const entry = this.find(model, version);
    if (entry.state !== 'READY' || entry.config === undefined || entry.scheduler === undefined) {
      throw new ServingError(
        'MODEL_NOT_READY',
        `model '${model}' version ${entry.version} is ${entry.state}${entry.reason ? `: ${entry.reason}` : ''}`,
      );
    }
    return entry as ReadyVersion;
  }

  /**
   * The version (model, version?) names, whatever its state: the given one, or the newest READY one,
   * or the newest one when none is READY. Throws NOT_FOUND for unknown models and versions.
   */
  find(model: string, version?: string): ModelVersion {
    const entry = this.repository.get(model);
    if (entry === undefined) {
      throw new ServingError('MODEL_NOT_FOUND', `unknown model '${model}'; serving: ${this.repository.names().join(', ') || 'nothing'}`);
    }
    if (entry.versions.size === 0 && entry.handler !== undefined && entry.reason === undefined) {
      throw new ServingError(
        'MODEL_NOT_FOUND',
        `model '${model}' is a pipeline (a handler with no graph of its own), so it has no tensors to infer; call its handler: POST /api/models/${model}/predict`,
      );
    }
    if (version !== undefined && version !== '') {
      const found = /^[1-9][0-9]*$/.test(version) ? entry.versions.get(Number(version)) : undefined;
      if (found === undefined) {
        const known = [...entry.versions.keys()].join(', ');
        throw new ServingError('VERSION_NOT_FOUND', `model '${model}' has no version '${version}'${known ? `; versions: ${known}` : ''}`);
      }
      return found;
    }
    const versions = [...entry.versions.values()].sort((a, b) => b.version - a.version);
    const newest = versions.find((v) => v.state === 'READY') ?? versions[0];
    if (newest === undefined) {
      throw new ServingError('MODEL_NOT_READY', `model '${model}' is UNAVAILABLE: ${entry.reason ?? 'no version loaded'}`);
    }
    return newest;
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const startedMs = performance.now();
    const target = this.resolve(request.model, request.version);
    const outputNames = validateRequest(target.config, request);
    const stats = target.scheduler.stats;
    const batchSize = target.config.maxBatchSize > 0 ? request.inputs[0]!.shape[0]! : 1;
    const respond = (outputs: InferenceResponse['outputs'], timing: NonNullable<InferenceResponse['timing']>): InferenceResponse => {
      const response: InferenceResponse = { model_name: target.model, model_version: String(target.version), outputs, timing };
      if (request.id !== undefined) response.id = request.id;
      return response;
    };

    let cacheKey: string | undefined;
    if (this.cache?.enabled === true && target.config.responseCache) {
      // The key is taken before scheduling: the inputs' buffers may be moved to a worker after.
      // The in-process cache answers synchronously; only a shared one costs an await.
      const key = this.cache.key(target, request.inputs, outputNames);
      cacheKey = typeof key === 'string' ? key : await key;
      const found = this.cache.get(cacheKey);
      const hit = found instanceof Promise ? await found : found;
      const lookupNs = nsSince(startedMs);
      if (hit !== undefined) {
        stats.recordCacheHit(batchSize, lookupNs, lookupNs);
        return respond(hit, { queueNs: 0, computeNs: 0, cacheHit: true });
      }
      stats.recordCacheMiss(lookupNs);
    }

    // Decided before scheduling: moved input buffers are gone once the worker has them.
    const logged = this.predictionLog?.sample() === true ? (request.transferInputs === true ? snapshotTensors(request.inputs) : request.inputs) : undefined;
    try {
      const result = await target.scheduler.infer({
        inputs: request.inputs,
        outputNames,
        transfer: request.transferInputs === true,
        ...(request.parameters !== undefined && { parameters: request.parameters }),
      });
      if (cacheKey !== undefined) this.cache!.set(cacheKey, result.outputs);
      if (logged !== undefined) {
        this.predictionLog!.record({
          time: Date.now(),
          model: target.model,
          version: String(target.version),
          ...(request.id !== undefined && { requestId: request.id }),
          latencyMs: nsSince(startedMs) / 1e6,
          inputs: logged,
          outputs: result.outputs,
        });
      }
      stats.recordSuccess(batchSize, nsSince(startedMs), {
        queueNs: result.queueNs,
        inputNs: result.computeInputNs,
        inferNs: result.computeInferNs,
        outputNs: result.computeOutputNs,
      });
      return respond(result.outputs, { queueNs: result.queueNs, computeNs: result.computeInferNs, batchSize: result.executedBatchSize });
    } catch (error) {
      stats.recordFailure(nsSince(startedMs));
      throw error;
    }
  }
}
