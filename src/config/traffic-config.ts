import { z } from 'zod';
import { parseDuration } from './duration.js';

/** A version number, written as a number (`2`) or as the string the URL uses (`"2"`). */
export const versionNumberSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const version = typeof value === 'number' ? value : /^[1-9][0-9]*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(version) || version < 1) {
    ctx.addIssue({ code: 'custom', message: `expected a version number such as 2, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return version;
});

/** How a shadow answer is compared with the primary's (see `compare-outputs.ts`). */
export const SHADOW_COMPARE_MODES = ['auto', 'top1', 'max_abs_diff'] as const;
export type ShadowCompareMode = (typeof SHADOW_COMPARE_MODES)[number];

/** Default max absolute difference under which two tensors agree. */
export const DEFAULT_SHADOW_TOLERANCE = 1e-4;

export const shadowConfigSchema = z.strictObject({
  /** The version that receives the copies; its answers never reach the client. */
  version: versionNumberSchema,
  /** Share of the requests the primary answers that are copied, 0..100. */
  percent: z.number().min(0).max(100),
  /** `top1`: classifiers agree when every row's arg-max is the same; `max_abs_diff`: tensors agree within `tolerance`; `auto` picks per output. */
  compare: z.enum(SHADOW_COMPARE_MODES).optional(),
  tolerance: z.number().min(0).optional(),
});

export type ShadowConfig = z.infer<typeof shadowConfigSchema>;

/**
 * A model's traffic policy: the `traffic:` section of its `config.yaml`, and the body of
 * `PUT /v2/models/{m}/traffic`.
 *
 * @example
 * # config.yaml
 * version_policy: { latest: { num_versions: 2 } }
 * traffic:
 *   weights: { 1: 90, 2: 10 }          # relative weights of READY versions
 *   shadow: { version: 3, percent: 20 } # copies of 20% of the requests also go to version 3
 */
export const trafficConfigSchema = z.strictObject({
  weights: z
    .record(z.string(), z.number().min(0, 'a weight is 0 or more').max(1e6))
    .superRefine((weights, ctx) => {
      // Keys are checked here rather than by a key schema, whose message zod replaces with "Invalid key in record".
      for (const key of Object.keys(weights)) {
        if (!/^[1-9][0-9]*$/.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: 'keys are version numbers, e.g. 1 or 2' });
      }
      if (Object.keys(weights).length === 0) ctx.addIssue({ code: 'custom', message: 'name at least one version' });
      else if (!Object.values(weights).some((v) => v > 0)) ctx.addIssue({ code: 'custom', message: 'at least one weight must be above 0' });
    }),
  /** The version a rollback returns to; default: the one with the largest weight. */
  stable: versionNumberSchema.optional(),
  shadow: shadowConfigSchema.optional(),
});

export type TrafficConfig = z.infer<typeof trafficConfigSchema>;
/** What a caller may send (versions as numbers or strings). */
export type TrafficConfigInput = z.input<typeof trafficConfigSchema>;

/** `90s`, `1m30s`, `500ms`, or a number of milliseconds (as a number or digits). */
export const durationMsSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : parseDuration(value);
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 30s, 1m or 1m30s (or milliseconds), got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return Math.round(ms);
});

/**
 * A canary rollout: the `rollout:` section of a model's `config.yaml`, the body of
 * `POST /v2/models/{m}/rollout` and the options of `slipway rollout start`. Every field but `to` is
 * optional; `rolloutDefaults` fills them.
 *
 * @example
 * rollout:
 *   to: 2
 *   steps: [10, 25, 50, 100]
 *   interval: 1m
 *   min_requests: 100
 *   min_success_rate: 0.99
 *   max_p99_ratio: 1.5
 */
export const rolloutConfigSchema = z.strictObject({
  /** The candidate version. */
  to: versionNumberSchema,
  /** The stable version it is compared with; default: the one taking the most traffic now. */
  from: versionNumberSchema.optional(),
  /** The candidate's share of traffic at each step, in percent, increasing; reaching 100 promotes it. */
  steps: z
    .array(z.number().gt(0, 'a step is above 0%').max(100, 'a step is at most 100%'))
    .min(1)
    .refine((s) => s.every((v, i) => i === 0 || v > s[i - 1]!), 'steps must increase')
    .optional(),
  /** How long each step runs before it is judged (and how often a waiting step is judged again). */
  interval: durationMsSchema.optional(),
  /** How long a step may wait for enough requests before the rollout rolls back as inconclusive. */
  step_deadline: durationMsSchema.optional(),
  /** Requests each version needs in a window before it is judged (fewer: inconclusive, the step waits). */
  min_requests: z.number().int().min(10, 'at least 10 requests, or no test means anything').optional(),
  /** The candidate's success rate must stay at or above this, 0..1 (Flagger's default: 0.99). */
  min_success_rate: z.number().min(0).max(1).optional(),
  /** The candidate's p99 latency may be at most this many times the stable's. */
  max_p99_ratio: z.number().min(1).optional(),
  /** And at most this many milliseconds, when set. */
  max_p99_ms: z.number().positive().optional(),
  /** A regression must also be significant: one-sided p-value below this (Mann-Whitney U for latency, two proportions for errors). */
  significance: z.number().gt(0).lt(0.5).optional(),
  /** Percent of the stable's requests also copied to the candidate, to measure agreement (0: off). */
  shadow_percent: z.number().min(0).max(100).optional(),
  shadow_compare: z.enum(SHADOW_COMPARE_MODES).optional(),
  shadow_tolerance: z.number().min(0).optional(),
  /** With shadow traffic, the share of compared answers that must agree, 0..1. */
  min_agreement: z.number().min(0).max(1).optional(),
});

export type RolloutConfig = z.input<typeof rolloutConfigSchema>;
export type ParsedRolloutConfig = z.output<typeof rolloutConfigSchema>;

/** The defaults a rollout's unset fields take (Flagger's success-rate default; steps as Argo's examples). */
export const ROLLOUT_DEFAULTS = Object.freeze({
  steps: Object.freeze([10, 25, 50, 100]) as readonly number[],
  intervalMs: 60_000,
  /** Times the interval. */
  stepDeadlineIntervals: 5,
  minRequests: 100,
  minSuccessRate: 0.99,
  maxP99Ratio: 1.5,
  significance: 0.05,
  shadowPercent: 0,
  minAgreement: 0.99,
});
