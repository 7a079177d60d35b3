/** The result of a one-sided Mann-Whitney U test that `x` tends to be larger than `y`. */
export interface MannWhitneyResult {
  /** U for x: the number of (x, y) pairs with x > y, ties counting one half. */
  u: number;
  /** The normal approximation's z score (tie-corrected, with continuity correction). */
  z: number;
  /** One-sided p-value: the chance of a U this large if x and y came from one distribution. */
  p: number;
  /** U / (n_x · n_y): the probability that a random x exceeds a random y (0.5: no difference). */
  effect: number;
}

/**
 * The Mann-Whitney U test (Wilcoxon rank-sum), one-sided: is `x` stochastically larger than `y`?
 * Kayenta judges canary latency this way because it assumes no distribution (latencies are skewed
 * and heavy-tailed, so a t-test would be wrong). Uses the normal approximation with the tie
 * correction, accurate for samples of about 10 and more each (the rollout's minimum sample).
 *
 * @example
 * mannWhitneyGreater(candidateLatencies, stableLatencies).p < 0.05; // the candidate is slower
 */
export function mannWhitneyGreater(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const nx = x.length;
  const ny = y.length;
  if (nx === 0 || ny === 0) return { u: 0, z: 0, p: 1, effect: 0.5 };
  const all = new Float64Array(nx + ny);
  all.set(x);
  all.set(y, nx);
  const order = Array.from(all.keys()).sort((a, b) => all[a]! - all[b]!);
  const n = nx + ny;
  let rankSumX = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && all[order[j + 1]!] === all[order[i]!]) j++;
    // Tied values share the mean of the ranks they span (1-based).
    const rank = (i + j + 2) / 2;
    const ties = j - i + 1;
    if (ties > 1) tieTerm += ties ** 3 - ties;
    for (let k = i; k <= j; k++) if (order[k]! < nx) rankSumX += rank;
    i = j + 1;
  }
  const u = rankSumX - (nx * (nx + 1)) / 2;
  const mean = (nx * ny) / 2;
  const variance = ((nx * ny) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, z: 0, p: 1, effect: u / (nx * ny) };
  const z = (u - mean - 0.5) / Math.sqrt(variance);
  return { u, z, p: normalSurvival(z), effect: u / (nx * ny) };
}

/**
 * One-sided two-proportion z test: is the failure rate a/n larger than b/m? Pooled variance; a
 * window where neither failed is no evidence (p = 1).
 *
 * @example
 * proportionGreater(12, 100, 3, 900).p; // ≈ 4e-20: the candidate fails more often
 */
export function proportionGreater(a: number, n: number, b: number, m: number): { z: number; p: number } {
  if (n === 0 || m === 0) return { z: 0, p: 1 };
  const pooled = (a + b) / (n + m);
  if (pooled === 0 || pooled === 1) return { z: 0, p: 1 };
  const z = (a / n - b / m) / Math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m));
  return { z, p: normalSurvival(z) };
}

/** P(Z > z) for a standard normal Z. */
export function normalSurvival(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** The complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere). */
function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const poly =
    -x * x -
    1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const value = t * Math.exp(poly);
  return x >= 0 ? value : 2 - value;
}
