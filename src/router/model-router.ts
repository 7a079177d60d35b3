import { ServingError } from '../errors/serving-error.js';
import type { ModelRepository, ModelVersion } from '../repository/model-repository.js';
import { snapshotTensors, type PredictionLog } from '../observability/prediction-log.js';
import type { ResponseCache } from '../scheduler/response-cache.js';
import type { InferenceRequest, InferenceResponse } from '../tensor/inference.js';
import type { ShadowCopy, ShadowMirror } from './shadow.js';
import { chooseVersion, heaviest, usableWeights, type TrafficPolicy } from './traffic-policy.js';
import { validateRequest } from './validate-request.js';

/** A READY version together with its config and scheduler (a model's instances, or a graph's executor), as `resolve` hands it out. */
export type ReadyVersion = ModelVersion & Required<Pick<ModelVersion, 'config' | 'scheduler'>>;

/**
 * Where requests that name no version go, and what is told how they went: the rollout
 * controller (or any other source of traffic policies).
 */
export interface TrafficDirector {
  /** The model's traffic policy; undefined: the newest READY version takes every request. */
  policy(model: string): TrafficPolicy | undefined;
  /** A request the policy routed finished (ok or not) after `latencyMs`; cache hits are not reported. */
  observe(model: string, version: number, ok: boolean, latencyMs: number): void;
}

export interface RouterTraffic {
  director?: TrafficDirector;
  /** Copies a share of the requests to a shadow version when the policy says so. */
  mirror?: ShadowMirror;
}

/** The OIP request parameter that carries a sticky routing key (as the x-slipway-key header does). */
export const ROUTING_KEY_PARAMETER = 'routing_key';

const routedVersions = new WeakMap<object, { model: string; version: number }>();

/**
 * The version a failed request had been routed to, when it got that far: a candidate's failures
 * are then counted and logged under its own version, not the one metadata names.
 */
export function routedVersionOf(error: unknown): { model: string; version: number } | undefined {
  return typeof error === 'object' && error !== null ? routedVersions.get(error) : undefined;
}

function markRouted(error: unknown, target: ReadyVersion): void {
  if (typeof error === 'object' && error !== null) routedVersions.set(error, { model: target.model, version: target.version });
}

const isReady = (version: ModelVersion | undefined): version is ReadyVersion =>
  version?.state === 'READY' && version.config !== undefined && version.scheduler !== undefined;

/** The request's sticky key: the adapter's (x-slipway-key header, gRPC metadata), else the `routing_key` parameter. */
function routingKeyOf(request: InferenceRequest): string | undefined {
  if (request.routingKey !== undefined && request.routingKey !== '') return request.routingKey;
  const parameter = request.parameters?.[ROUTING_KEY_PARAMETER];
  return typeof parameter === 'string' || typeof parameter === 'number' ? String(parameter) : undefined;
}

const nsSince = (startMs: number): number => (performance.now() - startMs) * 1e6;

/**
 * Finds the model version a request addresses and sends the request to it. Knows nothing of HTTP
 * or JSON: every protocol adapter calls the same `infer`, so a traffic policy (weights, sticky
 * keys, shadow copies, rollouts) applies to every protocol alike. A version named by the request
 * (`/versions/{v}`, `x-slipway-version`) always wins over the policy.
 */
export class ModelRouter {
  /**
   * @param cache server-wide response cache; models opt in with `response_cache { enable: true }`.
   * @param traffic the traffic policies and the shadow mirror; without them, the newest READY version serves.
   */
  constructor(
    private readonly repository: ModelRepository,
    private readonly cache?: ResponseCache,
    private readonly predictionLog?: PredictionLog,
    private readonly traffic: RouterTraffic = {},
  ) {}

  /** The version a request for (model, version?) goes to: the given one, or the one taking most of the model's traffic. */
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
   * The version (model, version?) names, whatever its state: the given one, or the READY one with
   * the largest weight in the model's traffic policy, else the newest READY one, or the newest one
   * when none is READY. Throws NOT_FOUND for unknown models and versions.
   */
  find(model: string, version?: string): ModelVersion {
    const entry = this.repository.get(model);
    if (entry === undefined) {
      throw new ServingError('MODEL_NOT_FOUND', `unknown model '${model}'; serving: ${this.repository.names().join(', ') || 'nothing'}`);
    }
    if (entry.versions.size === 0 && entry.handler !== undefined && entry.reason === undefined) {
      const handler = entry.handler;
      // Whether it takes tensors is known once its handler.ts has loaded (a tensor handler then has version 1).
      if (handler.state !== 'READY') {
        throw new ServingError('MODEL_NOT_READY', `model '${model}': its handler is ${handler.state}${handler.reason !== undefined ? `: ${handler.reason}` : ''}`);
      }
      throw new ServingError(
        'MODEL_NOT_FOUND',
        `model '${model}' is a pipeline (a JSON handler, defineHandler, with no graph of its own): it exchanges JSON documents, not tensors; ` +
          `call its handler: POST /api/models/${model}/predict, use it as an InferenceGraph step (serviceName), or declare it with defineTensorHandler to serve it over OIP`,
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
    const policy = this.traffic.director?.policy(model);
    if (policy !== undefined) {
      const primary = heaviest(usableWeights(policy, (v) => isReady(entry.versions.get(v))));
      if (primary !== undefined) return entry.versions.get(primary)!;
    }
    const versions = [...entry.versions.values()].sort((a, b) => b.version - a.version);
    const newest = versions.find((v) => v.state === 'READY') ?? versions[0];
    if (newest === undefined) {
      throw new ServingError('MODEL_NOT_READY', `model '${model}' is UNAVAILABLE: ${entry.reason ?? 'no version loaded'}`);
    }
    return newest;
  }

  /**
   * The version a request would go to when that can be known before its body is read: a pinned
   * version, the only version the traffic policy can choose, or the policy's choice for a sticky
   * key from a header. Undefined when the choice depends on the body (a `routing_key` parameter) or
   * on chance (a weighted split without a key), when the request is mirrored to a shadow, or when
   * the version is not READY: the raw-bytes answer cache is then skipped.
   */
  routeBeforeDecoding(model: string, version: string | undefined, routingKey: string | undefined): ReadyVersion | undefined {
    const versions = this.repository.get(model)?.versions;
    if (versions === undefined) return undefined;
    if (version !== undefined && version !== '') {
      const pinned = /^[1-9][0-9]*$/.test(version) ? versions.get(Number(version)) : undefined;
      return isReady(pinned) ? pinned : undefined;
    }
    const policy = this.traffic.director?.policy(model);
    if (policy === undefined) {
      try {
        return this.resolve(model);
      } catch {
        return undefined;
      }
    }
    if (policy.shadow !== undefined) return undefined;
    const usable = (v: number) => isReady(versions.get(v));
    if (routingKey === undefined && usableWeights(policy, usable).length !== 1) return undefined;
    const chosen = chooseVersion(policy, usable, routingKey);
    const target = chosen === undefined ? undefined : versions.get(chosen);
    return isReady(target) ? target : undefined;
  }

  /**
   * The version a request goes to. A request naming its version is pinned to it; the others follow
   * the model's traffic policy (by sticky key, else at random by weight) among its READY versions.
   */
  private route(request: InferenceRequest): { target: ReadyVersion; policy: TrafficPolicy | undefined; routed: boolean } {
    if (request.version !== undefined && request.version !== '') return { target: this.resolve(request.model, request.version), policy: undefined, routed: false };
    const versions = this.repository.get(request.model)?.versions;
    // An unknown model is resolve's NOT_FOUND; only known ones are asked for a policy.
    const policy = versions === undefined ? undefined : this.traffic.director?.policy(request.model);
    if (policy !== undefined) {
      const chosen = chooseVersion(policy, (v) => isReady(versions!.get(v)), routingKeyOf(request));
      const target = chosen === undefined ? undefined : versions!.get(chosen);
      if (isReady(target)) return { target, policy, routed: true };
    }
    return { target: this.resolve(request.model), policy, routed: true };
  }

  async infer(request: InferenceRequest): Promise<InferenceResponse> {
    const startedMs = performance.now();
    const { target, policy, routed } = this.route(request);
    const director = routed ? this.traffic.director : undefined;
    let outputNames: string[];
    try {
      outputNames = validateRequest(target.config, request);
    } catch (error) {
      // A candidate whose signature changed refuses what the stable takes: that is its failure.
      director?.observe(target.model, target.version, false, nsSince(startedMs) / 1e6);
      markRouted(error, target);
      throw error;
    }
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
    const shadow = routed && policy?.shadow !== undefined ? this.shadowCopy(target, policy, request, outputNames) : undefined;
    // A mirrored request is logged with its shadow comparison instead.
    const logged =
      shadow === undefined && this.predictionLog?.sample() === true ? (request.transferInputs === true ? snapshotTensors(request.inputs) : request.inputs) : undefined;
    try {
      const routingKey = routingKeyOf(request);
      const result = await target.scheduler.infer({
        inputs: request.inputs,
        outputNames,
        transfer: request.transferInputs === true,
        ...(request.parameters !== undefined && { parameters: request.parameters }),
        ...(routingKey !== undefined && { routingKey }),
        ...(request.requestId !== undefined && { requestId: request.requestId }),
      });
      if (cacheKey !== undefined) this.cache!.set(cacheKey, result.outputs);
      if (logged !== undefined) {
        this.predictionLog!.record({
          time: Date.now(),
          model: target.model,
          version: String(target.version),
          ...((request.requestId ?? request.id) !== undefined && { requestId: (request.requestId ?? request.id)! }),
          latencyMs: nsSince(startedMs) / 1e6,
          inputs: logged,
          outputs: result.outputs,
        });
      }
      const latencyNs = nsSince(startedMs);
      director?.observe(target.model, target.version, true, latencyNs / 1e6);
      if (shadow !== undefined) this.traffic.mirror!.run(shadow, result.outputs, latencyNs / 1e6);
      stats.recordSuccess(batchSize, latencyNs, {
        queueNs: result.queueNs,
        inputNs: result.computeInputNs,
        inferNs: result.computeInferNs,
        outputNs: result.computeOutputNs,
      });
      return respond(result.outputs, {
        queueNs: result.queueNs,
        computeNs: result.computeInferNs,
        batchSize: result.executedBatchSize,
        ...(result.steps !== undefined && { steps: result.steps }),
      });
    } catch (error) {
      stats.recordFailure(nsSince(startedMs));
      director?.observe(target.model, target.version, false, nsSince(startedMs) / 1e6);
      markRouted(error, target);
      throw error;
    }
  }

  private shadowCopy(target: ReadyVersion, policy: TrafficPolicy, request: InferenceRequest, outputNames: string[]): ShadowCopy | undefined {
    const mirror = this.traffic.mirror;
    if (mirror === undefined || policy.shadow === undefined) return undefined;
    const shadowVersion = this.repository.get(target.model)?.versions.get(policy.shadow.version);
    return mirror.select(target.model, target, policy.shadow, isReady(shadowVersion) ? shadowVersion : undefined, {
      ...(request.id !== undefined && { id: request.id }),
      inputs: request.inputs,
      outputNames,
    });
  }
}
