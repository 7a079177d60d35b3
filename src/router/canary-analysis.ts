import { mannWhitneyGreater, proportionGreater } from './mann-whitney.js';

/** The latencies one version keeps per window: a uniform sample (reservoir) beyond this many. */
const RESERVOIR = 4096;

/** What one version did in an analysis window: requests, failures and a sample of latencies. */
export class VersionSample {
  requests = 0;
  errors = 0;
  /** Latencies of successful requests, in ms (a uniform sample of them past RESERVOIR). */
  readonly latenciesMs: number[] = [];
  private successes = 0;

  constructor(private readonly random: () => number = Math.random) {}

  record(ok: boolean, latencyMs: number): void {
    this.requests++;
    if (!ok) {
      this.errors++;
      return;
    }
    this.successes++;
    if (this.latenciesMs.length < RESERVOIR) this.latenciesMs.push(latencyMs);
    else {
      // Algorithm R: every success so far has the same chance of being in the sample.
      const slot = Math.floor(this.random() * this.successes);
      if (slot < RESERVOIR) this.latenciesMs[slot] = latencyMs;
    }
  }
}

/** Shadow comparisons of the candidate's answers with the stable's, in a window. */
export interface ShadowTally {
  agree: number;
  disagree: number;
  /** The candidate failed on a copy the stable answered: counted as disagreement. */
  errors: number;
}

/** Everything the analysis of one window sees: both versions on the same window. */
export class AnalysisWindow {
  readonly stable: VersionSample;
  readonly candidate: VersionSample;
  readonly shadow: ShadowTally = { agree: 0, disagree: 0, errors: 0 };

  constructor(
    readonly startedMs: number,
    random: () => number = Math.random,
  ) {
    this.stable = new VersionSample(random);
    this.candidate = new VersionSample(random);
  }
}

/** The limits a candidate is held to (the rollout spec's analysis fields, resolved). */
export interface AnalysisThresholds {
  minRequests: number;
  minSuccessRate: number;
  maxP99Ratio: number;
  maxP99Ms?: number;
  significance: number;
  /** Only checked when the rollout mirrors traffic (shadowPercent > 0). */
  minAgreement: number;
  shadowPercent: number;
}

export interface VersionSummary {
  requests: number;
  errors: number;
  success_rate: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
}

/** The numbers behind a verdict, as status, logs and the decision history show them. */
export interface AnalysisSummary {
  window_ms: number;
  stable: VersionSummary;
  candidate: VersionSummary;
  p99_ratio: number | null;
  /** One-sided p-values: the candidate fails more often / is slower than the stable. */
  error_p_value: number | null;
  latency_p_value: number | null;
  shadow_comparisons: number;
  agreement: number | null;
}

export type VerdictKind = 'pass' | 'fail' | 'inconclusive';

export interface Verdict {
  kind: VerdictKind;
  /** Why, one sentence per check that failed (fail) or could not decide (inconclusive). */
  reasons: string[];
  summary: AnalysisSummary;
}

/** Nearest-rank percentile of a sample (q in 0..1). */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function summarize(sample: VersionSample): VersionSummary {
  return {
    requests: sample.requests,
    errors: sample.errors,
    success_rate: sample.requests === 0 ? null : (sample.requests - sample.errors) / sample.requests,
    p50_ms: percentile(sample.latenciesMs, 0.5) ?? null,
    p99_ms: percentile(sample.latenciesMs, 0.99) ?? null,
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
const pValue = (p: number): string => (p < 0.0001 ? 'p < 0.0001' : `p = ${p.toFixed(4)}`);

/**
 * Judges a canary window the way Flagger and Kayenta do, with the safeguards they lack at low
 * traffic. Each check passes, fails or cannot decide:
 *
 * - **errors**: the candidate's success rate must be ≥ `minSuccessRate`; below it, it fails only if
 *   it also fails significantly more often than the stable on the same window (one-sided
 *   two-proportion test), so bad requests that fail on both versions do not roll it back;
 * - **latency**: its p99 must be ≤ `maxP99Ratio` × the stable's (and ≤ `maxP99Ms` when set); above,
 *   it fails only if a one-sided Mann-Whitney U test says its latencies are higher (noise is not a
 *   regression);
 * - **agreement** (when traffic is mirrored): the share of shadow answers that agree with the
 *   stable's must be ≥ `minAgreement`.
 *
 * Each check needs `minRequests` on both versions (comparisons, for agreement); with fewer it is
 * inconclusive. Any failure fails the window; otherwise any inconclusive check makes it inconclusive.
 *
 * @example
 * const verdict = analyzeCanary(window, thresholds, Date.now());
 * if (verdict.kind === 'fail') console.log(verdict.reasons.join('; '));
 */
export function analyzeCanary(window: AnalysisWindow, thresholds: AnalysisThresholds, nowMs: number): Verdict {
  const stable = summarize(window.stable);
  const candidate = summarize(window.candidate);
  const failures: string[] = [];
  const undecided: string[] = [];
  const enough = window.candidate.requests >= thresholds.minRequests && window.stable.requests >= thresholds.minRequests;
  let errorP: number | null = null;
  let latencyP: number | null = null;
  let ratio: number | null = null;

  if (!enough) {
    undecided.push(
      `too few requests: candidate ${window.candidate.requests}, stable ${window.stable.requests}, each needs ${thresholds.minRequests}`,
    );
  } else {
    const rate = candidate.success_rate!;
    const test = proportionGreater(window.candidate.errors, window.candidate.requests, window.stable.errors, window.stable.requests);
    errorP = test.p;
    if (rate < thresholds.minSuccessRate && test.p < thresholds.significance) {
      failures.push(
        `success rate ${pct(rate)} is below ${pct(thresholds.minSuccessRate)} and below the stable's ${pct(stable.success_rate!)} (${pValue(test.p)})`,
      );
    }
    const stableLatencies = window.stable.latenciesMs;
    const candidateLatencies = window.candidate.latenciesMs;
    if (stableLatencies.length >= thresholds.minRequests / 2 && candidateLatencies.length >= thresholds.minRequests / 2) {
      ratio = stable.p99_ms! > 0 ? candidate.p99_ms! / stable.p99_ms! : null;
      const overRatio = ratio !== null && ratio > thresholds.maxP99Ratio;
      const overBound = thresholds.maxP99Ms !== undefined && candidate.p99_ms! > thresholds.maxP99Ms;
      const mw = mannWhitneyGreater(candidateLatencies, stableLatencies);
      latencyP = mw.p;
      if ((overRatio || overBound) && mw.p < thresholds.significance) {
        const limits = [
          overRatio ? `${ratio!.toFixed(2)}× the stable's ${ms(stable.p99_ms!)} (limit ${thresholds.maxP99Ratio}×)` : undefined,
          overBound ? `over the ${ms(thresholds.maxP99Ms!)} bound` : undefined,
        ].filter((s) => s !== undefined);
        failures.push(`p99 latency ${ms(candidate.p99_ms!)} is ${limits.join(' and ')}, and slower by Mann-Whitney U (${pValue(mw.p)})`);
      }
    } else if (failures.length === 0) {
      undecided.push(`too few successful requests to compare latency (candidate ${candidateLatencies.length}, stable ${stableLatencies.length})`);
    }
  }

  const compared = window.shadow.agree + window.shadow.disagree + window.shadow.errors;
  const agreement = compared === 0 ? null : window.shadow.agree / compared;
  if (thresholds.shadowPercent > 0) {
    if (compared < thresholds.minRequests) {
      undecided.push(`too few shadow comparisons: ${compared}, needs ${thresholds.minRequests}`);
    } else if (agreement! < thresholds.minAgreement) {
      failures.push(
        `shadow agreement ${pct(agreement!)} is below ${pct(thresholds.minAgreement)} (${window.shadow.disagree} disagreed, ${window.shadow.errors} failed, of ${compared})`,
      );
    }
  }

  const summary: AnalysisSummary = {
    window_ms: Math.max(0, Math.round(nowMs - window.startedMs)),
    stable,
    candidate,
    p99_ratio: ratio,
    error_p_value: errorP,
    latency_p_value: latencyP,
    shadow_comparisons: compared,
    agreement,
  };
  if (failures.length > 0) return { kind: 'fail', reasons: failures, summary };
  if (undecided.length > 0) return { kind: 'inconclusive', reasons: undecided, summary };
  return { kind: 'pass', reasons: [], summary };
}
