import { createHash } from 'node:crypto';

/** A version and its (relative) traffic weight. */
export interface VersionWeight {
  version: number;
  weight: number;
}

const TWO_POW_48 = 2 ** 48;

/** A uniform point in (0, 1) for (key, version): the first 48 bits of SHA-256, never exactly 0 or 1. */
export function stickyPoint(key: string, version: number): number {
  const digest = createHash('sha256').update(`${version}\u0000${key}`, 'utf8').digest();
  return (digest.readUIntBE(0, 6) + 0.5) / TWO_POW_48;
}

/**
 * The version a sticky key goes to: weighted rendezvous hashing (highest random weight). Each
 * version draws an exponential variate `-ln(u) / weight` from the key's hash, and the smallest wins,
 * so version v gets exactly weight_v / Σ weights of the keys. What this guarantees:
 *
 * - while the weights (and the set of versions) stay the same, a key always gets the same version;
 * - when one version's weight grows relative to the others, keys move only *to* it, never between
 *   the others, and only the share it gained moves: 10% → 25% moves 15% of the keys, the minimum;
 * - when a version drops out (weight 0, unloaded), only its keys move, spread over the others in
 *   proportion to their weights; every other key stays.
 *
 * For two versions this is the same minimum as cumulative ranges on a hashed point; for three or
 * more it keeps those properties where cumulative ranges would shift the middle version's keys.
 *
 * @example
 * pickSticky('user-42', [{ version: 1, weight: 90 }, { version: 2, weight: 10 }]); // 1 (always, for this key)
 */
export function pickSticky(key: string, weights: readonly VersionWeight[]): number | undefined {
  let best: number | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const { version, weight } of weights) {
    if (!(weight > 0)) continue;
    const score = -Math.log(stickyPoint(key, version)) / weight;
    if (score < bestScore) {
      bestScore = score;
      best = version;
    }
  }
  return best;
}

/** A version drawn at random in proportion to the weights (requests without a sticky key). */
export function pickWeighted(weights: readonly VersionWeight[], random: () => number = Math.random): number | undefined {
  let total = 0;
  for (const w of weights) if (w.weight > 0) total += w.weight;
  if (total <= 0) return undefined;
  let point = random() * total;
  let last: number | undefined;
  for (const { version, weight } of weights) {
    if (!(weight > 0)) continue;
    last = version;
    if (point < weight) return version;
    point -= weight;
  }
  // Rounding can leave the point a hair past the last range.
  return last;
}
