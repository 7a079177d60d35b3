import type { ModelConfig, TensorSpec } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import { formatShape } from '../../tensor/tensor.js';
import type { Datatype } from '../../tensor/datatypes.js';

/** Which fields feed one input tensor, and the shape of one row of it. */
export interface InputPlan {
  name: string;
  datatype: Datatype;
  /** One row's dimensions (without the batch dimension); -1 = taken from the data. */
  dims: number[];
  /** The fields, in the order their values fill the tensor. */
  fields: string[];
  /**
   * `scalars`: each field holds one element (CSV columns); the row shape is fixed here.
   * `array`: one field holds the whole row, flat or nested (a JSON array), or a single element.
   */
  mode: 'scalars' | 'array';
  /** For `scalars`: the row shape, known from the number of fields. */
  rowShape?: number[];
}

const mappingError = (message: string): ServingError => new ServingError('CONFIG_INVALID', message);

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/**
 * Expands one field spec against the known columns: `name`, a range `p0..p63` (inclusive, in column
 * order), a wildcard `pixel_*`, or several of these separated by commas.
 */
export function expandFieldSpec(spec: string, columns: readonly string[], splitCommas: boolean, what: string): string[] {
  const parts = splitCommas ? spec.split(',').map((p) => p.trim()).filter((p) => p !== '') : [spec];
  const fields: string[] = [];
  for (const part of parts) {
    const range = /^(.+?)\.\.(.+)$/.exec(part);
    if (range !== null && !columns.includes(part)) {
      const from = columns.indexOf(range[1]!);
      const to = columns.indexOf(range[2]!);
      if (from < 0 || to < 0) {
        const missing = from < 0 ? range[1] : range[2];
        throw mappingError(`${what}: range '${part}': there is no column '${missing}'${describeColumns(columns)}`);
      }
      if (to < from) throw mappingError(`${what}: range '${part}' runs backwards ('${range[2]}' comes before '${range[1]}')`);
      fields.push(...columns.slice(from, to + 1));
    } else if (part.includes('*') && !columns.includes(part)) {
      const pattern = new RegExp(`^${part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
      const matched = columns.filter((c) => pattern.test(c));
      if (matched.length === 0) throw mappingError(`${what}: '${part}' matches no column${describeColumns(columns)}`);
      fields.push(...matched);
    } else {
      fields.push(part);
    }
  }
  return fields;
}

function describeColumns(columns: readonly string[]): string {
  if (columns.length === 0) return '';
  const shown = columns.slice(0, 12).map((c) => `'${c}'`).join(', ');
  return `; the columns are ${shown}${columns.length > 12 ? ` and ${columns.length - 12} more` : ''}`;
}

/**
 * One row's dims of an input. A batching model's config dims exclude the batch dimension already; a
 * model without one (max_batch_size 0) takes one row per request, shaped as the config says.
 */
export function rowDims(spec: TensorSpec): number[] {
  return [...spec.dims];
}

/**
 * Decides which fields feed each input. Explicit mappings win; otherwise a field named after the
 * input feeds it, and a model with a single input takes every non-key column in order. Anything it
 * cannot decide is a mapping error that names the input, what it expects and the columns there are.
 */
export function planInputs(
  config: ModelConfig,
  columns: readonly string[],
  keyColumn: string | undefined,
  explicit: ReadonlyMap<string, { specs: readonly string[]; splitCommas: boolean }>,
): InputPlan[] {
  for (const name of explicit.keys()) {
    if (!config.inputs.some((i) => i.name === name)) {
      throw mappingError(`--map ${name}=…: model '${config.name}' has no input '${name}'; its inputs are ${config.inputs.map((i) => `'${i.name}'`).join(', ')}`);
    }
  }
  const nonKey = columns.filter((c) => c !== keyColumn);
  return config.inputs.map((spec) => {
    const dims = rowDims(spec);
    const what = `input '${spec.name}' (${spec.datatype} ${formatShape(dims)} per row)`;
    let fields: string[];
    const mapped = explicit.get(spec.name);
    if (mapped !== undefined) {
      fields = mapped.specs.flatMap((s) => expandFieldSpec(s, columns, mapped.splitCommas, `--map ${spec.name}`));
    } else if (columns.includes(spec.name) || columns.length === 0) {
      // No columns known means a JSONL input without a single record: nothing to map, nothing to refuse.
      fields = [spec.name];
    } else if (config.inputs.length === 1 && nonKey.length > 0) {
      fields = nonKey;
    } else {
      throw mappingError(
        `nothing feeds ${what}: no column is named '${spec.name}'${config.inputs.length > 1 ? ' and the model has several inputs' : ''}; map it with --map ${spec.name}=COLUMNS${describeColumns(columns)}`,
      );
    }
    if (keyColumn !== undefined && fields.includes(keyColumn) && mapped === undefined) fields = fields.filter((f) => f !== keyColumn);
    return planOne(spec.name, spec.datatype, dims, fields, what);
  });
}

function planOne(name: string, datatype: Datatype, dims: number[], fields: string[], what: string): InputPlan {
  const variable = dims.filter((d) => d < 0).length;
  const fixedCount = product(dims.filter((d) => d >= 0));
  if (fields.length === 1) {
    // One field: it holds an array (or one element when the row is a single element).
    return { name, datatype, dims, fields, mode: 'array' };
  }
  if (variable === 0) {
    if (fields.length !== fixedCount) {
      throw mappingError(
        `${what} takes ${fixedCount} values per row, but ${fields.length} columns map to it (${summarize(fields)})`,
      );
    }
    return { name, datatype, dims, fields, mode: 'scalars', rowShape: dims };
  }
  if (variable > 1) {
    throw mappingError(`${what} has ${variable} variable dimensions: the ${fields.length} columns mapped to it do not say its shape; map one field holding a nested array instead`);
  }
  if (fixedCount === 0 || fields.length % fixedCount !== 0) {
    throw mappingError(`${what}: ${fields.length} columns cannot fill rows of ${formatShape(dims)} (a multiple of ${fixedCount} is needed)`);
  }
  const rowShape = dims.map((d) => (d < 0 ? fields.length / fixedCount : d));
  return { name, datatype, dims, fields, mode: 'scalars', rowShape };
}

function summarize(fields: readonly string[]): string {
  return fields.length <= 6 ? fields.map((f) => `'${f}'`).join(', ') : `'${fields[0]}' … '${fields[fields.length - 1]}'`;
}
