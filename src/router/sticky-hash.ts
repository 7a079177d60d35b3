/** A version and its (relative) traffic weight. */
export interface VersionWeight {
  version: number;
  weight: number;
}

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 (x86, 32-bit) over the key's UTF-16 code units, two to a block. */
function murmur3(key: string, seed: number): number {
  let h = seed >>> 0;
  const length = key.length;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    let k = (key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)) >>> 0;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  if (i < length) {
    let k = key.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  return fmix32(h ^ (length * 2));
}

const TWO_POW_21 = 2 ** 21;
const TWO_POW_53 = 2 ** 53;

/**
 * A uniform point in (0, 1) for (key, version), never exactly 0 or 1: 53 bits from two MurmurHash3
 * passes seeded by the version. The same on every replica and every run (no process salt), and
 * cheap enough for every request (well under a microsecond for a short key).
 */
export function stickyPoint(key: string, version: number): number {
  const seed = fmix32(Math.imul(version, 0x9e3779b1) ^ 0x5bd1e995);
  const high = murmur3(key, seed);
  const low = murmur3(key, fmix32(seed ^ 0x27d4eb2f));
  return (high * TWO_POW_21 + (low >>> 11) + 0.5) / TWO_POW_53;
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
