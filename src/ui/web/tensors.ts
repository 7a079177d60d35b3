/** Helpers for OIP tensors in the browser: shapes, nesting, and reading typed values from text. */

export const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function flatten(value: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const item of value) flatten(item, out);
  else out.push(value);
  return out;
}

/** The shape of a nested array (first elements followed down). */
export function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let current = value;
  while (Array.isArray(current)) {
    shape.push(current.length);
    current = current[0];
  }
  return shape;
}

/** Flat row-major values nested to `shape` (for JSON that people can read). */
export function nest(values: readonly unknown[], shape: readonly number[]): unknown {
  if (shape.length <= 1) return [...values];
  const [, ...rest] = shape;
  const size = product(rest);
  const out: unknown[] = [];
  for (let i = 0; i < values.length; i += size) out.push(nest(values.slice(i, i + size), rest));
  return out;
}

const INTEGER_RANGES: Record<string, [number, number]> = {
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

/** One value for a tensor of `datatype`, or a message saying why it is not one. */
export function readValue(datatype: string, value: unknown): { value: unknown } | { problem: string } {
  if (datatype === 'BYTES') return { value: typeof value === 'string' ? value : JSON.stringify(value) };
  if (datatype === 'BOOL') {
    if (typeof value === 'boolean') return { value };
    if (value === 1 || value === '1' || value === 'true') return { value: true };
    if (value === 0 || value === '0' || value === 'false' || value === '') return { value: false };
    return { problem: `'${String(value)}' is not a boolean` };
  }
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) return { problem: `'${String(value)}' is not a number` };
  const range = INTEGER_RANGES[datatype];
  if (range !== undefined) {
    if (!Number.isInteger(n)) return { problem: `${n} is not a whole number (${datatype})` };
    if (n < range[0] || n > range[1]) return { problem: `${n} is outside ${datatype}'s range ${range[0]}..${range[1]}` };
  }
  return { value: n };
}

/** A value to fill a tensor with: zeros, or something random in a range that suits the type. */
export function fillValue(datatype: string, how: 'zeros' | 'random'): unknown {
  if (datatype === 'BYTES') return how === 'zeros' ? '' : Math.random().toString(36).slice(2, 8);
  if (datatype === 'BOOL') return how === 'random' && Math.random() < 0.5;
  if (how === 'zeros') return 0;
  const range = INTEGER_RANGES[datatype];
  if (range !== undefined) return Math.floor(Math.random() * Math.min(10, range[1] - range[0] + 1)) + Math.max(range[0], 0);
  return Math.round(Math.random() * 1000) / 1000;
}

/** The shape to send for a declared shape: -1s become 1 for the first (batch) dimension and 16 elsewhere, as `slipway bench` does. */
export function concreteShape(shape: readonly number[]): number[] {
  return shape.map((d, i) => (d >= 0 ? d : i === 0 ? 1 : 16));
}

/** Rows × columns for a grid editor, when the tensor is at most two dimensions wide (others 1). */
export function gridOf(shape: readonly number[]): { rows: number; columns: number } | undefined {
  const wide = shape.filter((d) => d !== 1);
  if (wide.length > 2) return undefined;
  if (wide.length === 0) return { rows: 1, columns: 1 };
  if (wide.length === 1) return { rows: 1, columns: wide[0]! };
  return { rows: wide[0]!, columns: wide[1]! };
}
