import { createHash } from 'node:crypto';
import type { TensorData } from '../tensor/datatypes.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * A server-wide LRU of inference answers, bounded in bytes. Keys hash everything that decides an
 * answer (model, version, each input's name, datatype, shape and bytes, the requested outputs), so
 * a new version can never be answered from an older one's entries. Entries are stored and handed
 * out as copies: callers may move or detach what they get (the HTTP codec does).
 *
 * @example
 * const cache = new ResponseCache(64 * 1024 * 1024);
 * const key = ResponseCache.key('digits', '1', inputs, ['probabilities']);
 * const hit = cache.get(key) ?? (cache.set(key, outputs), undefined);
 */
export class ResponseCache {
  // Map iteration order is insertion order: re-inserting on access makes the first key the LRU one.
  private readonly entries = new Map<string, { outputs: Tensor[]; bytes: number }>();
  private usedBytes = 0;

  constructor(readonly capacityBytes: number) {}

  static key(model: string, version: string, inputs: readonly Tensor[], outputNames: readonly string[]): string {
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
