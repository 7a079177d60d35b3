import type { ShadowCompareMode } from '../config/traffic-config.js';
import { DATATYPE_INFO } from '../tensor/datatypes.js';
import { fromHalfBits } from '../tensor/fp16.js';
import { formatShape, type Tensor } from '../tensor/tensor.js';

/** Whether a shadow answer agrees with the primary's, and by how much numbers differ. */
export interface ShadowVerdict {
  agree: boolean;
  /** The largest |primary − shadow| over numeric outputs (null when there were none to compare). */
  maxAbsDiff: number | null;
  /** What disagreed, in a sentence (for the prediction log). */
  detail?: string;
}

function numberAt(tensor: Tensor, i: number): number {
  const value = tensor.data[i]!;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') return Number.NaN;
  return tensor.datatype === 'FP16' ? fromHalfBits(value) : value;
}

/** Arg-max of each row of `size` values (the last dimension): a classifier's top-1 label per row. */
function topOne(tensor: Tensor, size: number): number[] {
  const labels: number[] = [];
  for (let row = 0; row * size < tensor.data.length; row++) {
    let best = 0;
    for (let k = 1; k < size; k++) if (numberAt(tensor, row * size + k) > numberAt(tensor, row * size + best)) best = k;
    labels.push(best);
  }
  return labels;
}

/** `auto`: a float output shaped [rows, classes ≥ 2] is a classifier's scores; anything else is a tensor. */
function isScores(tensor: Tensor): boolean {
  return DATATYPE_INFO[tensor.datatype].kind === 'float' && tensor.shape.length === 2 && tensor.shape[1]! >= 2;
}

/**
 * Compares a shadow answer with the primary's, output by output: for a classifier (`top1`, or
 * `auto` on a float [rows, classes] output) every row's arg-max must match; other numeric outputs
 * must lie within `tolerance` of each other (max absolute difference); strings and booleans must be
 * equal. A missing output or another shape disagrees.
 *
 * @example
 * compareOutputs(primary.outputs, shadow.outputs, 'auto', 1e-4); // { agree: true, maxAbsDiff: 2.3e-7 }
 */
export function compareOutputs(primary: readonly Tensor[], shadow: readonly Tensor[], mode: ShadowCompareMode, tolerance: number): ShadowVerdict {
  let maxAbsDiff: number | null = null;
  const problems: string[] = [];
  for (const p of primary) {
    const s = shadow.find((t) => t.name === p.name);
    if (s === undefined) {
      problems.push(`the shadow has no output '${p.name}'`);
      continue;
    }
    if (s.datatype !== p.datatype || formatShape(s.shape) !== formatShape(p.shape)) {
      problems.push(`output '${p.name}' is ${s.datatype}${formatShape(s.shape)} in the shadow, ${p.datatype}${formatShape(p.shape)} in the primary`);
      continue;
    }
    const kind = DATATYPE_INFO[p.datatype].kind;
    if (kind === 'bytes' || kind === 'bool') {
      const differs = p.data.findIndex((v, i) => v !== s.data[i]);
      if (differs >= 0) problems.push(`output '${p.name}' differs at element ${differs}`);
      continue;
    }
    let diff = 0;
    for (let i = 0; i < p.data.length; i++) {
      const a = numberAt(p, i);
      const b = numberAt(s, i);
      const d = Number.isNaN(a) && Number.isNaN(b) ? 0 : Math.abs(a - b);
      if (!(d <= diff)) diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    }
    maxAbsDiff = Math.max(maxAbsDiff ?? 0, diff);
    const classify = mode === 'top1' || (mode === 'auto' && isScores(p));
    if (classify) {
      const size = p.shape[p.shape.length - 1] ?? p.data.length;
      const a = topOne(p, Math.max(1, size));
      const b = topOne(s, Math.max(1, size));
      const row = a.findIndex((label, i) => label !== b[i]);
      if (row >= 0) problems.push(`output '${p.name}' row ${row}: top-1 ${a[row]} in the primary, ${b[row]} in the shadow`);
    } else if (diff > tolerance) {
      problems.push(`output '${p.name}' differs by up to ${diff.toPrecision(3)} (tolerance ${tolerance})`);
    }
  }
  return { agree: problems.length === 0, maxAbsDiff, ...(problems.length > 0 && { detail: problems.join('; ') }) };
}
