import type { ModelConfig } from '../config/model-config.js';
import { toServingError } from '../errors/serving-error.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PredictionLog } from '../observability/prediction-log.js';
import type { ShadowRecord } from '../observability/prediction-log-messages.js';
import type { VersionScheduler } from '../scheduler/version-scheduler.js';
import type { Tensor } from '../tensor/tensor.js';
import { compareOutputs, type ShadowVerdict } from './compare-outputs.js';
import type { ShadowPolicy } from './traffic-policy.js';
import { validateRequest } from './validate-request.js';

/** What became of one copy: compared (agree / disagree), failed on the shadow version, or shed because the server was busy. */
export type ShadowOutcome = ShadowRecord['outcome'];

/** A handler's own comparison of two answers (`compare` in its definition), run on its worker. */
export type ShadowComparator = (primary: Tensor[], shadow: Tensor[]) => Promise<ShadowVerdict>;

/** A READY version as the mirror needs it. */
export interface ShadowTarget {
  readonly version: number;
  readonly config: ModelConfig;
  readonly scheduler: VersionScheduler;
}

export interface ShadowMirrorOptions {
  metrics?: Metrics;
  logger?: Logger;
  /** Every comparison is written here (inputs, both answers, the verdict) when a prediction log is configured. */
  predictionLog?: PredictionLog;
  /** Told of every outcome (the rollout controller counts agreement in its window). */
  onOutcome?: (model: string, version: number, outcome: ShadowOutcome) => void;
  /** The model's handler comparator, when its handler defines `compare`. */
  comparatorFor?: (model: string) => ShadowComparator | undefined;
  /** Copies running at once across the server; beyond, new copies are shed (default 4). */
  maxInflight?: number;
  random?: () => number;
}

/** A request chosen for mirroring, with what the copy needs once the primary has answered. */
export interface ShadowCopy {
  model: string;
  requestId?: string;
  primaryVersion: number;
  target: ShadowTarget;
  policy: ShadowPolicy;
  /** The request's inputs, copied before the primary could move them to its worker. */
  inputs: Tensor[];
  outputNames: string[];
}

/**
 * Shadow (mirror) traffic: a share of the requests is copied to another version after the primary
 * has answered; the copy's answer is compared with the primary's and never reaches the client.
 * The copy runs on the shadow version's own queue and instances, and is shed first: when the
 * primary or the shadow has requests waiting, or `maxInflight` copies are already running, the
 * copy is dropped (counted as `shed`) rather than slow anyone down. A failing shadow changes
 * nothing for clients.
 *
 * @example
 * const copy = mirror.select('digits', primary, policy.shadow, shadowVersion, { inputs, outputNames });
 * // … run the primary, answer the client …
 * if (copy !== undefined) mirror.run(copy, response.outputs, latencyMs);
 */
export class ShadowMirror {
  private inflight = 0;
  private readonly logger: Logger;
  private readonly random: () => number;

  constructor(private readonly options: ShadowMirrorOptions = {}) {
    this.logger = options.logger ?? silentLogger();
    this.random = options.random ?? Math.random;
  }

  /** Copies running now. */
  get running(): number {
    return this.inflight;
  }

  /**
   * Decides, before the primary is scheduled, whether this request is copied; if so its inputs
   * are copied now (the primary may move them to its worker).
   */
  select(
    model: string,
    primary: ShadowTarget,
    policy: ShadowPolicy,
    target: ShadowTarget | undefined,
    request: { id?: string; inputs: readonly Tensor[]; outputNames: string[] },
  ): ShadowCopy | undefined {
    if (target === undefined || target.version === primary.version || policy.percent <= 0) return undefined;
    if (this.random() * 100 >= policy.percent) return undefined;
    if (this.inflight >= (this.options.maxInflight ?? 4) || target.scheduler.queueDepth > 0 || primary.scheduler.queueDepth > 0) {
      this.report(model, target.version, 'shed', null);
      return undefined;
    }
    return {
      model,
      ...(request.id !== undefined && { requestId: request.id }),
      primaryVersion: primary.version,
      target,
      policy,
      inputs: request.inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: [...t.shape], data: t.data.slice() as Tensor['data'] })),
      outputNames: request.outputNames,
    };
  }

  /** Runs the copy and compares its answer with the primary's `outputs` (read now: the caller may hand them on). */
  run(copy: ShadowCopy, outputs: readonly Tensor[], primaryLatencyMs: number): void {
    const primary = outputs.map((t) => ({ ...t, shape: [...t.shape], data: t.data.slice() as Tensor['data'] }));
    this.inflight++;
    const started = performance.now();
    void this.execute(copy, primary)
      .then(
        ({ verdict, outputs: shadowOutputs }) => ({ outcome: (verdict.agree ? 'agree' : 'disagree') as ShadowOutcome, verdict, shadowOutputs, error: undefined }),
        (error: unknown) => ({ outcome: 'error' as ShadowOutcome, verdict: undefined, shadowOutputs: undefined, error: toServingError(error) }),
      )
      .then(({ outcome, verdict, shadowOutputs, error }) => {
        this.inflight--;
        const latencyMs = performance.now() - started;
        this.report(copy.model, copy.target.version, outcome, verdict?.maxAbsDiff ?? null);
        if (error !== undefined) this.logger.debug({ event: 'shadow_failed', model: copy.model, version: copy.target.version, err: error }, 'shadow copy failed');
        if (this.options.predictionLog === undefined) return;
        this.options.predictionLog!.record({
          time: Date.now(),
          model: copy.model,
          version: String(copy.primaryVersion),
          ...(copy.requestId !== undefined && { requestId: copy.requestId }),
          latencyMs: primaryLatencyMs,
          inputs: copy.inputs,
          outputs: primary,
          shadow: {
            version: String(copy.target.version),
            outcome,
            maxAbsDiff: verdict?.maxAbsDiff ?? null,
            latencyMs,
            ...(verdict?.detail !== undefined && { detail: verdict.detail }),
            ...(error !== undefined && { detail: `${error.code}: ${error.message}` }),
            ...(shadowOutputs !== undefined && { outputs: shadowOutputs }),
          },
        });
      });
  }

  private async execute(copy: ShadowCopy, primary: Tensor[]): Promise<{ verdict: ShadowVerdict; outputs: Tensor[] }> {
    const { target } = copy;
    const outputNames = validateRequest(target.config, { model: copy.model, inputs: copy.inputs, outputs: copy.outputNames.map((name) => ({ name })) });
    // Moved to the worker unless the prediction log still needs them.
    const result = await target.scheduler.infer({ inputs: copy.inputs, outputNames, transfer: this.options.predictionLog === undefined });
    const comparator = this.options.comparatorFor?.(copy.model);
    const verdict = comparator !== undefined ? await comparator(primary, result.outputs) : compareOutputs(primary, result.outputs, copy.policy.compare, copy.policy.tolerance);
    return { verdict, outputs: result.outputs };
  }

  private report(model: string, version: number, outcome: ShadowOutcome, maxAbsDiff: number | null): void {
    this.options.metrics?.shadowCompared(model, String(version), outcome, maxAbsDiff);
    this.options.onOutcome?.(model, version, outcome);
  }
}
