import { DEFAULT_SHADOW_TOLERANCE, ROLLOUT_DEFAULTS, type ParsedRolloutConfig } from '../config/traffic-config.js';
import { ServingError } from '../errors/serving-error.js';
import type { AnalysisThresholds } from './canary-analysis.js';
import type { RolloutSpec } from './rollout-store.js';

/**
 * A rollout's full settings: the given fields over the defaults (10→25→50→100%, 1 min a step,
 * 5 intervals to gather enough requests, 100 requests, 99% success, p99 at most 1.5× the stable's).
 * Steps that end below 100% promote after their last step passes.
 */
export function resolveRolloutSpec(config: ParsedRolloutConfig, from: number): RolloutSpec {
  const steps = [...(config.steps ?? ROLLOUT_DEFAULTS.steps)];
  if (steps[0]! >= 100) {
    throw new ServingError('INVALID_INPUT', 'steps: the first step must be below 100% (a rollout straight to 100% has nothing to compare; use promote)');
  }
  if (config.to === from) throw new ServingError('INVALID_INPUT', `to: version ${config.to} is already the stable version; roll out another version`);
  const intervalMs = config.interval ?? ROLLOUT_DEFAULTS.intervalMs;
  const deadline = config.step_deadline ?? intervalMs * ROLLOUT_DEFAULTS.stepDeadlineIntervals;
  if (deadline < intervalMs) throw new ServingError('INVALID_INPUT', `step_deadline (${deadline} ms) must be at least the interval (${intervalMs} ms)`);
  return {
    from,
    to: config.to,
    steps,
    interval_ms: intervalMs,
    step_deadline_ms: deadline,
    min_requests: config.min_requests ?? ROLLOUT_DEFAULTS.minRequests,
    min_success_rate: config.min_success_rate ?? ROLLOUT_DEFAULTS.minSuccessRate,
    max_p99_ratio: config.max_p99_ratio ?? ROLLOUT_DEFAULTS.maxP99Ratio,
    max_p99_ms: config.max_p99_ms ?? null,
    significance: config.significance ?? ROLLOUT_DEFAULTS.significance,
    shadow_percent: config.shadow_percent ?? ROLLOUT_DEFAULTS.shadowPercent,
    shadow_compare: config.shadow_compare ?? 'auto',
    shadow_tolerance: config.shadow_tolerance ?? DEFAULT_SHADOW_TOLERANCE,
    min_agreement: config.min_agreement ?? ROLLOUT_DEFAULTS.minAgreement,
  };
}

/** The analysis thresholds a spec holds the candidate to. */
export function thresholdsOf(spec: RolloutSpec): AnalysisThresholds {
  return {
    minRequests: spec.min_requests,
    minSuccessRate: spec.min_success_rate,
    maxP99Ratio: spec.max_p99_ratio,
    ...(spec.max_p99_ms !== null && { maxP99Ms: spec.max_p99_ms }),
    significance: spec.significance,
    minAgreement: spec.min_agreement,
    shadowPercent: spec.shadow_percent,
  };
}
