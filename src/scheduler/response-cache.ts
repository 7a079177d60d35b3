import { createHash } from 'node:crypto';
import type { Tensor } from '../tensor/tensor.js';

/** The model version an answer comes from, as the cache needs to know it. */
export interface CacheTarget {
  readonly model: string;
  readonly version: number;
  /** The version's model file; a shared cache keys on its content, so replicas never mix two builds of one version. */
  readonly modelPath: string;
}

/**
 * Where inference answers are kept for models that opt in (`response_cache { enable: true }`). Two
 * implementations: an LRU in this process (`MemoryResponseCache`, synchronous) and Redis
 * (`RedisResponseCache`, shared by processes and replicas). Calls may answer synchronously or with a
 * promise, so the in-process path costs no extra turn of the event loop. A cache never fails a
 * request: when its store is unavailable it answers "not cached" and counts why.
 *
 * @example
 * const key = await cache.key(target, inputs, ['probabilities']);
 * const hit = await cache.get(key);
 * if (hit === undefined) cache.set(key, outputs);
 */
export interface ResponseCache {
  /** False when configured off (a memory cache of 0 bytes). */
  readonly enabled: boolean;
  /** 'memory' or 'redis': for the banner and the metrics. */
  readonly kind: 'memory' | 'redis';
  /** Bytes held in this process (0 for a cache kept elsewhere). */
  readonly bytes: number;
  /** The key of an answer: hashes everything that decides it. Take it before the inputs are moved to a worker. */
  key(target: CacheTarget, inputs: readonly Tensor[], outputNames: readonly string[]): string | Promise<string>;
  /** The stored answer (a copy the caller owns), or undefined. */
  get(key: string): Tensor[] | undefined | Promise<Tensor[] | undefined>;
  /** Stores a copy of an answer; never throws, never delays the caller. */
  set(key: string, outputs: readonly Tensor[]): void;
  /** Forgets this process's entries (a model was reloaded or unloaded). */
  clear(): void;
  close(): Promise<void>;
}

/**
 * The content-hash key: model, version tag, each input's name, datatype, shape and bytes (inputs in
 * name order), and the requested outputs, as a SHA-256 in base64.
 *
 * @example
 * responseCacheKey('digits', '1', inputs, ['probabilities']); // 'q0v…='
 */
export function responseCacheKey(model: string, version: string, inputs: readonly Tensor[], outputNames: readonly string[]): string {
  const hash = createHash('sha256');
  const text = (s: string): void => {
    hash.update(String(s.length));
    hash.update(':');
    hash.update(s);
  };
  text(model);
  text(version);
  for (const input of [...inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    text(input.name);
    text(input.datatype);
    text(input.shape.join(','));
    if (Array.isArray(input.data)) for (const s of input.data) text(s);
    else hash.update(new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength));
  }
  for (const name of outputNames) text(name);
  return hash.digest('base64');
}
