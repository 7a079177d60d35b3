import { DEFAULT_SHADOW_TOLERANCE, type ShadowCompareMode, type TrafficConfig } from '../config/traffic-config.js';
import { pickSticky, pickWeighted, type VersionWeight } from './sticky-hash.js';

/** Where a model's traffic policy comes from: its config.yaml, the admin API, or a rollout. */
export type TrafficSource = 'config' | 'admin' | 'rollout';

/** Copies of a share of the requests go to `version`; its answers are compared, never returned. */
export interface ShadowPolicy {
  version: number;
  /** 0..100 */
  percent: number;
  compare: ShadowCompareMode;
  tolerance: number;
}

/**
 * How the requests for one model that name no version split across its versions. Weights are
 * relative; versions that are not READY are left out and the rest share their traffic.
 */
export interface TrafficPolicy {
  /** Ascending by version. */
  readonly weights: readonly VersionWeight[];
  /** The version a rollback returns to. */
  readonly stable: number;
  readonly shadow?: ShadowPolicy;
  readonly source: TrafficSource;
}

/** The policy a `traffic:` section (or a PUT body) declares. */
export function policyFromConfig(config: TrafficConfig, source: TrafficSource): TrafficPolicy {
  const weights = Object.entries(config.weights)
    .map(([version, weight]) => ({ version: Number(version), weight }))
    .sort((a, b) => a.version - b.version);
  const policy: TrafficPolicy = { weights, stable: config.stable ?? heaviest(weights)!, source };
  if (config.shadow === undefined) return policy;
  return {
    ...policy,
    shadow: {
      version: config.shadow.version,
      percent: config.shadow.percent,
      compare: config.shadow.compare ?? 'auto',
      tolerance: config.shadow.tolerance ?? DEFAULT_SHADOW_TOLERANCE,
    },
  };
}

/** The version with the largest weight (the older one on a tie). */
export function heaviest(weights: readonly VersionWeight[]): number | undefined {
  let best: VersionWeight | undefined;
  for (const w of weights) if (w.weight > 0 && (best === undefined || w.weight > best.weight)) best = w;
  return best?.version;
}

/** The weights of the versions `usable` accepts, in order. */
export function usableWeights(policy: TrafficPolicy, usable: (version: number) => boolean): VersionWeight[] {
  return policy.weights.filter((w) => w.weight > 0 && usable(w.version));
}

/**
 * The version a request goes to: by its sticky key when it has one (the same key, the same
 * version, while the weights hold), else at random by weight. Undefined when no weighted version
 * is usable (the router then falls back to the newest READY version).
 */
export function chooseVersion(policy: TrafficPolicy, usable: (version: number) => boolean, key: string | undefined): number | undefined {
  const weights = usableWeights(policy, usable);
  if (weights.length === 1) return weights[0]!.version;
  return key === undefined ? pickWeighted(weights) : pickSticky(key, weights);
}

/** Each version's share in percent (the weights normalised), for status, metrics and the UI. */
export function sharePercent(weights: readonly VersionWeight[]): Map<number, number> {
  const total = weights.reduce((sum, w) => sum + Math.max(0, w.weight), 0);
  return new Map(weights.map((w) => [w.version, total > 0 ? (Math.max(0, w.weight) / total) * 100 : 0]));
}
