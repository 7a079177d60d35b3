import type { ModelConfig, TensorSpec } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import { DATATYPE_INFO, type TensorData } from '../../tensor/datatypes.js';
import { fromHalfBits } from '../../tensor/fp16.js';
import { formatShape, type Tensor } from '../../tensor/tensor.js';
import type { ColumnSpec, ColumnType } from '../sinks/batch-store.js';

export type OutputFunction = 'value' | 'argmax' | 'max' | 'json' | 'label' | 'index';

/** One column of the predictions table and how it is computed from one output tensor. */
export interface OutputColumn extends ColumnSpec {
  output: string;
  fn: OutputFunction;
  /** For `index`: which element of the row (flattened). */
  index?: number;
  /** The expression as written, for messages. */
  expression: string;
}

const mappingError = (message: string): ServingError => new ServingError('CONFIG_INVALID', message);

const EXPRESSION = /^\s*(?:(argmax|max|json|label|value)\s*\(\s*([^()]+?)\s*\)|([^[\]()]+?)\s*\[\s*(\d+)\s*\]|([^[\]()]+?))\s*$/;

function perRowCount(dims: readonly number[]): number | undefined {
  return dims.some((d) => d < 0) ? undefined : dims.reduce((a, b) => a * b, 1);
}

function valueType(spec: TensorSpec): ColumnType {
  const kind = DATATYPE_INFO[spec.datatype].kind;
  if (kind === 'bytes') return 'text';
  if (kind === 'bool') return 'boolean';
  if (kind === 'float') return 'real';
  return 'integer';
}

/**
 * Parses `column=expression` pairs: `argmax(o)` (class index), `max(o)` (its score), `label(o)` (the
 * class name from the labels), `json(o)` (the row's values as JSON), `o[3]` (one element), `o` or
 * `value(o)` (the single value of a one-element row).
 */
export function parseOutputColumns(
  config: ModelConfig,
  entries: ReadonlyArray<readonly [string, string]>,
  labels: readonly string[] | undefined,
): OutputColumn[] {
  return entries.map(([name, expression]) => {
    const match = EXPRESSION.exec(expression);
    if (match === null) {
      throw mappingError(`output column '${name}': cannot read '${expression}'; write argmax(OUTPUT), max(OUTPUT), label(OUTPUT), json(OUTPUT), OUTPUT[i] or OUTPUT`);
    }
    const fn: OutputFunction = match[1] !== undefined ? (match[1] as OutputFunction) : match[4] !== undefined ? 'index' : 'value';
    const output = (match[2] ?? match[3] ?? match[5])!.trim();
    const spec = config.outputs.find((o) => o.name === output);
    if (spec === undefined) {
      throw mappingError(`output column '${name}' = ${expression}: model '${config.name}' has no output '${output}'; its outputs are ${config.outputs.map((o) => `'${o.name}'`).join(', ')}`);
    }
    const rowCount = perRowCount(spec.dims);
    const numeric = DATATYPE_INFO[spec.datatype].kind !== 'bytes';
    const column: OutputColumn = { name, type: 'real', output, fn, expression };
    switch (fn) {
      case 'value':
        if (rowCount !== undefined && rowCount !== 1) {
          throw mappingError(
            `output column '${name}' = ${expression}: output '${output}' has ${rowCount} values per row (${formatShape(spec.dims)}); use argmax(${output}), max(${output}), json(${output}) or ${output}[i]`,
          );
        }
        column.type = valueType(spec);
        break;
      case 'index': {
        const index = Number(match[4]);
        if (rowCount !== undefined && index >= rowCount) {
          throw mappingError(`output column '${name}' = ${expression}: output '${output}' has ${rowCount} values per row, so indices run 0..${rowCount - 1}`);
        }
        column.index = index;
        column.type = valueType(spec);
        break;
      }
      case 'argmax':
      case 'max':
      case 'label':
        if (!numeric) throw mappingError(`output column '${name}' = ${expression}: ${fn}() needs a numeric output; '${output}' is ${spec.datatype}`);
        if (fn === 'label' && labels === undefined) {
          throw mappingError(`output column '${name}' = ${expression}: label() needs class names: give --labels FILE or batch.labels in the model's config.yaml`);
        }
        column.type = fn === 'argmax' ? 'integer' : fn === 'max' ? (valueType(spec) === 'integer' ? 'integer' : 'real') : 'text';
        break;
      case 'json':
        column.type = 'json';
        break;
    }
    return column;
  });
}

/**
 * The columns a model gets when no mapping names them: a one-value output becomes a column of its
 * own name; a vector of scores (one dimension per row) becomes `label` (the argmax, or the class
 * name when labels are known) and `score` (its value), prefixed with the output name when the model
 * has several outputs; anything else is stored as JSON.
 */
export function defaultOutputColumns(config: ModelConfig, labels: readonly string[] | undefined): OutputColumn[] {
  const entries: Array<[string, string]> = [];
  const prefix = config.outputs.length === 1 ? '' : undefined;
  for (const spec of config.outputs) {
    const p = prefix ?? `${spec.name}_`;
    const rowCount = perRowCount(spec.dims);
    const numeric = DATATYPE_INFO[spec.datatype].kind !== 'bytes' && DATATYPE_INFO[spec.datatype].kind !== 'bool';
    if (rowCount === 1) entries.push([spec.name, spec.name]);
    else if (spec.dims.length === 1 && numeric) {
      entries.push([`${p}label`, labels === undefined ? `argmax(${spec.name})` : `label(${spec.name})`]);
      entries.push([`${p}score`, `max(${spec.name})`]);
    } else entries.push([spec.name, `json(${spec.name})`]);
  }
  return parseOutputColumns(config, entries, labels);
}

/** Shortest decimal text that reads back as the same float32 (0.1f prints as 0.1, not 0.10000000149011612). */
export function float32Text(value: number): string {
  if (!Number.isFinite(value)) return 'null';
  for (let digits = 6; digits < 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9)));
}

function elementValue(datatype: TensorSpec['datatype'], data: TensorData, index: number): unknown {
  const v = data[index];
  if (datatype === 'FP16') return fromHalfBits(v as number);
  if (datatype === 'BOOL') return v === 1;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  return v;
}

function jsonRow(tensor: Tensor, rowShape: readonly number[], offset: number): string {
  const data = tensor.data;
  const text = (i: number): string => {
    const v = elementValue(tensor.datatype, data, offset + i);
    if (tensor.datatype === 'FP32') return float32Text(v as number);
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
    if (typeof v === 'bigint') return v.toString();
    return JSON.stringify(v);
  };
  let next = 0;
  const build = (depth: number): string => {
    if (depth === rowShape.length) return text(next++);
    const parts: string[] = [];
    for (let i = 0; i < rowShape[depth]!; i++) parts.push(build(depth + 1));
    return `[${parts.join(',')}]`;
  };
  return build(0);
}

/**
 * Computes every column for the `rows` rows of a response. Returns one array per column, or the
 * reason a row's output cannot fill a column (e.g. a variable-size output that is not one value).
 */
export function decodeOutputs(
  columns: readonly OutputColumn[],
  outputs: readonly Tensor[],
  rows: number,
  batched: boolean,
  labels: readonly string[] | undefined,
): unknown[][] {
  const byName = new Map(outputs.map((t) => [t.name, t] as const));
  return columns.map((column) => {
    const tensor = byName.get(column.output);
    if (tensor === undefined) throw new ServingError('INFERENCE_FAILED', `the model returned no output '${column.output}'`);
    const rowShape = batched ? tensor.shape.slice(1) : tensor.shape;
    if (batched && tensor.shape[0] !== rows) {
      throw new ServingError('INFERENCE_FAILED', `output '${column.output}' has ${tensor.shape[0]} rows for a request of ${rows}`);
    }
    const width = rowShape.reduce((a, b) => a * b, 1);
    const values: unknown[] = new Array(rows);
    const data = tensor.data;
    for (let r = 0; r < rows; r++) {
      const offset = r * width;
      switch (column.fn) {
        case 'value':
          if (width !== 1) throw new ServingError('INFERENCE_FAILED', `output column '${column.name}': output '${column.output}' has ${width} values in row ${r}, not 1`);
          values[r] = elementValue(tensor.datatype, data, offset);
          break;
        case 'index':
          if (column.index! >= width) throw new ServingError('INFERENCE_FAILED', `output column '${column.name}': output '${column.output}' has only ${width} values`);
          values[r] = elementValue(tensor.datatype, data, offset + column.index!);
          break;
        case 'argmax':
        case 'max':
        case 'label': {
          if (width === 0) {
            values[r] = null;
            break;
          }
          let best = 0;
          let bestValue = elementValue(tensor.datatype, data, offset) as number;
          for (let i = 1; i < width; i++) {
            const v = elementValue(tensor.datatype, data, offset + i) as number;
            if (v > bestValue) {
              best = i;
              bestValue = v;
            }
          }
          values[r] = column.fn === 'argmax' ? best : column.fn === 'max' ? bestValue : (labels?.[best] ?? String(best));
          break;
        }
        case 'json':
          values[r] = jsonRow(tensor, rowShape, offset);
          break;
      }
    }
    return values;
  });
}
