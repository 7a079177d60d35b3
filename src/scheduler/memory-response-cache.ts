import type { TensorData } from '../tensor/datatypes.js';
import type { Tensor } from '../tensor/tensor.js';
import { responseCacheKey, type CacheTarget, type ResponseCache } from './response-cache.js';

/**
 * A server-wide LRU of inference answers in this process, bounded in bytes. Keys hash everything
 * that decides an answer (model, version, inputs, requested outputs), so a new version can never be
 * answered from an older one's entries; a reload clears it. Entries are stored and handed out as
 * copies: callers may move or detach what they get (the HTTP codec does). Every call is synchronous.
 *
 * @example
 * const cache = new MemoryResponseCache(64 * 1024 * 1024);
 * const key = cache.key({ model: 'digits', version: 1, modelPath }, inputs, ['probabilities']);
 * const hit = cache.get(key) ?? (cache.set(key, outputs), undefined);
 */
export class MemoryResponseCache implements ResponseCache {
  readonly kind = 'memory';
  // Map iteration order is insertion order: re-inserting on access makes the first key the LRU one.
  private readonly entries = new Map<string, { outputs: Tensor[]; bytes: number }>();
  private usedBytes = 0;

  constructor(readonly capacityBytes: number) {}

  get enabled(): boolean {
    return this.capacityBytes > 0;
  }

  key(target: CacheTarget, inputs: readonly Tensor[], outputNames: readonly string[]): string {
    return responseCacheKey(target.model, String(target.version), inputs, outputNames);
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.usedBytes;
  }

  get(key: string): Tensor[] | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.outputs.map(copyTensor);
  }

  /** Stores a copy of `outputs`; an answer larger than the whole cache is not stored. */
  set(key: string, outputs: readonly Tensor[]): void {
    const bytes = outputs.reduce((sum, t) => sum + sizeOf(t.data), 0) + key.length;
    if (bytes > this.capacityBytes) return;
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      this.entries.delete(key);
      this.usedBytes -= existing.bytes;
    }
    this.entries.set(key, { outputs: outputs.map(copyTensor), bytes });
    this.usedBytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.usedBytes <= this.capacityBytes) break;
      this.entries.delete(oldest);
      this.usedBytes -= entry.bytes;
    }
  }

  clear(): void {
    this.entries.clear();
    this.usedBytes = 0;
  }

  async close(): Promise<void> {
    this.clear();
  }
}

function copyTensor(t: Tensor): Tensor {
  return { ...t, shape: [...t.shape], data: t.data.slice() as TensorData };
}

function sizeOf(data: TensorData): number {
  if (!Array.isArray(data)) return data.byteLength;
  let bytes = 0;
  for (const s of data) bytes += 2 * s.length + 16;
  return bytes;
}
