import { ServingError } from '../errors/serving-error.js';

/**
 * One worker's part of a job split N ways by key: `--shard i/N` takes the rows whose key hashes to i
 * modulo N (FNV-1a, 32 bits, over the key's text). Every worker reads the whole input and keeps its
 * own rows, so the parts are disjoint and together cover it, whatever order the workers run in; a
 * key that appears twice goes to the same worker both times. Rows without a key (a line that cannot
 * be parsed) are split by their row number instead.
 *
 * @example
 * const shard = parseShard('2/4');
 * shard.owns('k17'); // true for about a quarter of the keys
 */
export interface Shard {
  index: number;
  count: number;
  owns(key: string): boolean;
  /** `2/4`, as given. */
  readonly label: string;
}

export function parseShard(text: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (match === null || count < 1 || index >= count) {
    throw new ServingError('CONFIG_INVALID', `--shard '${text}': expected i/N with 0 <= i < N (e.g. 0/4 … 3/4)`);
  }
  return { index, count, label: `${index}/${count}`, owns: (key) => count === 1 || keyHash(key) % count === index };
}

/** FNV-1a over the UTF-16 code units of the key: cheap, stable across processes and platforms. */
export function keyHash(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
