import { DATATYPE_INFO, allocateData, type TensorData } from '../../tensor/datatypes.js';
import { formatShape, type Tensor } from '../../tensor/tensor.js';
import type { RowView } from '../sources/row-source.js';
import type { InputPlan } from './input-plan.js';
import { RowError, flattenArray, writeElement } from './tensor-values.js';

const FP32_MAX = 3.4028234663852886e38;

interface Prepared {
  shape: number[];
  elements: unknown[] | undefined;
  scalar: unknown;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function count(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Packs rows into one request's input tensors: one contiguous buffer per input, `maxRows` rows deep,
 * written in place (the CSV path parses numbers straight into it). Rows whose variable dimensions
 * differ cannot share a tensor, so `add` reports a shape change and the caller starts a new chunk.
 */
export class ChunkBuilder {
  private rows = 0;
  private buffers: TensorData[] = [];
  private shapes: Array<number[] | undefined> = [];
  private readonly prepared: Array<Prepared | undefined>;
  private readonly fast: boolean[];

  /**
   * @param slots the source slots each plan's fields were bound to
   * @param labels how each field is named in messages (`column 'p3'`, `field 'image'`)
   * @param batched false for models without a batch dimension (one row per request, no leading dim)
   */
  constructor(
    private readonly plans: readonly InputPlan[],
    private readonly slots: readonly number[][],
    private readonly labels: readonly string[][],
    readonly maxRows: number,
    private readonly batched: boolean,
  ) {
    this.prepared = plans.map(() => undefined);
    this.fast = plans.map((p) => p.mode === 'scalars' && (p.datatype === 'FP32' || p.datatype === 'FP64'));
    this.reset();
  }

  get size(): number {
    return this.rows;
  }

  get full(): boolean {
    return this.rows >= this.maxRows;
  }

  /**
   * Writes one row. Returns false, writing nothing, when its shape differs from the rows already in
   * the chunk; throws RowError (writing nothing that counts) when a value cannot feed its input.
   */
  add(row: RowView): boolean {
    const plans = this.plans;
    // First pass: the shape of every array-mode input, so a shape change is detected before writing.
    for (let p = 0; p < plans.length; p++) {
      const plan = plans[p]!;
      if (plan.mode === 'scalars') continue;
      const prepared = this.prepare(plan, row.get(this.slots[p]![0]!), this.labels[p]![0]!);
      const current = this.shapes[p];
      if (this.rows > 0 && current !== undefined && !sameShape(current, prepared.shape)) return false;
      this.prepared[p] = prepared;
    }
    if (this.rows === 0) this.allocate();
    for (let p = 0; p < plans.length; p++) {
      const plan = plans[p]!;
      const target = this.buffers[p]!;
      const width = count(this.shapes[p]!);
      const base = this.rows * width;
      if (plan.mode === 'scalars') {
        const slots = this.slots[p]!;
        if (this.fast[p]) {
          const array = target as Float32Array | Float64Array;
          const start = row.fillNumbers === undefined ? 0 : row.fillNumbers(slots, array, base);
          for (let i = start; i < slots.length; i++) {
            const v = row.fastNumber(slots[i]!);
            if (v === v && v <= FP32_MAX && v >= -FP32_MAX) array[base + i] = v;
            else writeElement(plan.datatype, target, base + i, row.get(slots[i]!), this.labels[p]![i]!);
          }
        } else {
          for (let i = 0; i < slots.length; i++) writeElement(plan.datatype, target, base + i, row.get(slots[i]!), this.labels[p]![i]!);
        }
      } else {
        const prepared = this.prepared[p]!;
        const label = this.labels[p]![0]!;
        if (prepared.elements === undefined) writeElement(plan.datatype, target, base, prepared.scalar, label);
        else {
          const elements = prepared.elements;
          for (let i = 0; i < elements.length; i++) {
            const v = elements[i];
            if (typeof v === 'number' && (plan.datatype === 'FP32' || plan.datatype === 'FP64') && v <= FP32_MAX && v >= -FP32_MAX) {
              (target as Float32Array)[base + i] = v;
            } else writeElement(plan.datatype, target, base + i, v, `${label}[${i}]`);
          }
        }
      }
    }
    this.rows++;
    return true;
  }

  /** The chunk's input tensors (views of the first `size` rows); the builder starts empty again. */
  take(): Tensor[] {
    const n = this.rows;
    const tensors = this.plans.map((plan, p) => {
      const rowShape = this.shapes[p]!;
      const width = count(rowShape);
      const buffer = this.buffers[p]!;
      const data = (n === this.maxRows ? buffer : Array.isArray(buffer) ? buffer.slice(0, n * width) : buffer.subarray(0, n * width)) as TensorData;
      return { name: plan.name, datatype: plan.datatype, shape: this.batched ? [n, ...rowShape] : rowShape, data };
    });
    this.reset();
    return tensors;
  }

  private reset(): void {
    this.rows = 0;
    this.buffers = [];
    this.shapes = this.plans.map((p) => (p.mode === 'scalars' ? p.rowShape : undefined));
  }

  private allocate(): void {
    this.buffers = this.plans.map((plan, p) => {
      const shape = plan.mode === 'scalars' ? plan.rowShape! : this.prepared[p]!.shape;
      this.shapes[p] = shape;
      return allocateData(plan.datatype, this.maxRows * count(shape));
    });
  }

  /** Works out the row shape of an array-mode value against the input's dims. */
  private prepare(plan: InputPlan, value: unknown, label: string): Prepared {
    const dims = plan.dims;
    const fixed = dims.every((d) => d >= 0);
    const expected = count(dims.map((d) => Math.max(d, 0)));
    const isArrayish = Array.isArray(value) || (typeof value === 'string' && value.trimStart().startsWith('[') && DATATYPE_INFO[plan.datatype].kind !== 'bytes');
    if (!isArrayish) {
      if (value === undefined || value === null) throw new RowError(`${label} is missing`);
      if (fixed && expected === 1) return { shape: dims, elements: undefined, scalar: value };
      throw new RowError(`${label}: expected an array for input '${plan.name}' (${formatShape(dims)} per row), got a single value`);
    }
    const { elements, shape } = flattenArray(value, label);
    if (shape.length === dims.length && shape.every((d, i) => dims[i]! < 0 || dims[i] === d)) return { shape, elements, scalar: undefined };
    if (fixed && elements.length === expected) return { shape: dims, elements, scalar: undefined };
    const variable = dims.filter((d) => d < 0).length;
    const known = count(dims.filter((d) => d >= 0));
    if (shape.length === 1 && variable === 1 && known > 0 && elements.length % known === 0 && elements.length > 0) {
      return { shape: dims.map((d) => (d < 0 ? elements.length / known : d)), elements, scalar: undefined };
    }
    throw new RowError(
      `${label}: ${formatShape(shape)} (${elements.length} values) does not fit input '${plan.name}', which takes ${formatShape(dims)} per row${fixed ? ` (${expected} values)` : ''}`,
    );
  }
}
