// What the cloud dialects (TF Serving/Vertex, SageMaker, Azure ML) share: choosing the model when
// the path does not name one, turning nested JSON lists into tensors of the model's datatypes, and
// writing tensors back as nested lists, whole or row by row.
import type { ModelConfig, TensorSpec } from '../../../config/model-config.js';
import { ServingError } from '../../../errors/serving-error.js';
import { fromHalfBits } from '../../../tensor/fp16.js';
import { tensorFromJson } from '../../../tensor/from-json.js';
import { elementCount, formatShape, type Tensor } from '../../../tensor/tensor.js';
import type { Slipway } from '../../../slipway.js';

/** The header any dialect route accepts to name the model on a multi-model server. */
export const MODEL_HEADER = 'x-slipway-model';

const invalid = (message: string): ServingError => new ServingError('INVALID_INPUT', message);
const malformed = (message: string): ServingError => new ServingError('MALFORMED_REQUEST', message);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The model a dialect request is for: the one named (path or header), else the configured default,
 * else the only model served. Several models and none named is a 400 that lists them and says how
 * to choose.
 */
export function pickModel(slipway: Slipway, named: string | undefined, defaultModel: string | undefined, how: string): string {
  if (named !== undefined && named !== '') return named;
  if (defaultModel !== undefined && defaultModel !== '') return defaultModel;
  const names = slipway.repository.names();
  if (names.length === 1) return names[0]!;
  throw new ServingError(
    'MODEL_AMBIGUOUS',
    names.length === 0
      ? 'no model is served'
      : `this server serves ${names.length} models (${names.join(', ')}); name one with ${how}, or start the server with --default-model`,
  );
}

/** The config of the version the request goes to (resolving READY-ness as inference does). */
export function configOf(slipway: Slipway, model: string, version?: string): ModelConfig {
  return slipway.router.resolve(model, version).config;
}

function isB64(value: unknown): value is { b64: string } {
  return isPlainObject(value) && typeof value.b64 === 'string' && Object.keys(value).length === 1;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Replaces `{"b64": "..."}` leaves with their decoded text (TF Serving's binary convention). */
function decodeB64Leaves(value: unknown, what: string): unknown {
  if (isB64(value)) {
    try {
      return utf8.decode(Buffer.from(value.b64, 'base64'));
    } catch {
      throw invalid(`${what}: a {"b64": ...} value does not decode to UTF-8 text; Slipway's engine carries BYTES as text`);
    }
  }
  if (Array.isArray(value)) return value.map((v) => decodeB64Leaves(v, what));
  return value;
}

/**
 * The shape of a nested list (TF Serving infers shapes the same way), refusing ragged lists with
 * the path of the first row that differs.
 */
export function nestedShape(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) return [];
  const shape: number[] = [];
  let level: unknown[] = [value];
  // Walk level by level; every element of a level must be a list of the same length, or none a list.
  for (;;) {
    const first = level[0];
    if (!Array.isArray(first)) {
      if (level.some(Array.isArray)) throw invalid(`${what}: the nested lists are ragged (some entries are lists and some are not)`);
      return shape;
    }
    const length = first.length;
    const next: unknown[] = [];
    for (const item of level) {
      if (!Array.isArray(item) || item.length !== length) {
        throw invalid(
          `${what}: the nested lists are ragged: at depth ${shape.length + 1} one list has ${Array.isArray(item) ? item.length : 'no'} entries where the first has ${length}`,
        );
      }
      for (const x of item) next.push(x);
    }
    shape.push(length);
    if (length === 0) return shape;
    level = next;
  }
}

/** The spec of a named input, or a 400 that lists the model's inputs. */
export function inputSpec(config: ModelConfig, name: string): TensorSpec {
  const spec = config.inputs.find((s) => s.name === name);
  if (spec === undefined) {
    throw invalid(`unknown input '${name}'; model '${config.name}' has inputs ${config.inputs.map((s) => `'${s.name}'`).join(', ')}`);
  }
  return spec;
}

/** The model's one input, or a 400 saying the request must name inputs. */
export function onlyInput(config: ModelConfig, form: string): TensorSpec {
  if (config.inputs.length !== 1) {
    throw invalid(
      `model '${config.name}' has ${config.inputs.length} inputs (${config.inputs.map((s) => `'${s.name}'`).join(', ')}); ${form}`,
    );
  }
  return config.inputs[0]!;
}

/** A nested JSON value (lists of numbers, strings or b64 objects) as a tensor of the spec's datatype. */
export function tensorFromNested(spec: TensorSpec, value: unknown, what: string): Tensor {
  const data = spec.datatype === 'BYTES' ? decodeB64Leaves(value, what) : value;
  const shape = nestedShape(data, what);
  return tensorFromJson({ name: spec.name, datatype: spec.datatype, shape, data }, 'input');
}

/**
 * Row-format instances (a list, one entry per batch row) as tensors: either values for a model with
 * one input, or objects naming each input.
 */
export function tensorsFromInstances(config: ModelConfig, instances: unknown, field: string): Tensor[] {
  if (!Array.isArray(instances) || instances.length === 0) throw malformed(`'${field}' must be a non-empty list`);
  const named = instances.every((i) => isPlainObject(i) && !isB64(i));
  if (!named) {
    const spec = onlyInput(config, `give each of '${field}' as an object naming the inputs`);
    return [tensorFromNested(spec, instances, `${field} for input '${spec.name}'`)];
  }
  const names = new Set<string>();
  for (const instance of instances as Array<Record<string, unknown>>) for (const key of Object.keys(instance)) names.add(key);
  return [...names].map((name) => {
    const spec = inputSpec(config, name);
    const rows = (instances as Array<Record<string, unknown>>).map((instance, i) => {
      if (!(name in instance)) throw invalid(`${field}[${i}] has no '${name}' (every instance must name the same inputs)`);
      return instance[name];
    });
    return tensorFromNested(spec, rows, `${field} for input '${name}'`);
  });
}

/** Columnar inputs: a value for a one-input model, or an object of input name → whole tensor. */
export function tensorsFromColumns(config: ModelConfig, inputs: unknown, field: string): Tensor[] {
  if (isPlainObject(inputs) && !isB64(inputs)) {
    const entries = Object.entries(inputs);
    if (entries.length === 0) throw malformed(`'${field}' names no inputs`);
    return entries.map(([name, value]) => tensorFromNested(inputSpec(config, name), value, `${field}.${name}`));
  }
  const spec = onlyInput(config, `give '${field}' as an object naming the inputs`);
  return [tensorFromNested(spec, inputs, `${field} for input '${spec.name}'`)];
}

/** How BYTES outputs are written: plain strings, or `{"b64": ...}` (TF Serving does so for names ending in `_bytes`). */
export type BytesStyle = (outputName: string) => 'text' | 'b64';

export const textBytes: BytesStyle = () => 'text';

function elementTexts(tensor: Tensor, start: number, end: number, bytes: BytesStyle): string[] {
  const out = new Array<string>(end - start);
  const data = tensor.data;
  const finite = (v: number): string => (Number.isFinite(v) ? String(v) : 'null');
  if (Array.isArray(data)) {
    const b64 = bytes(tensor.name) === 'b64';
    for (let i = start; i < end; i++) {
      out[i - start] = b64 ? `{"b64":${JSON.stringify(Buffer.from(data[i]!, 'utf8').toString('base64'))}}` : JSON.stringify(data[i]);
    }
    return out;
  }
  for (let i = start; i < end; i++) {
    const v = data[i]!;
    if (tensor.datatype === 'BOOL') out[i - start] = v ? 'true' : 'false';
    else if (tensor.datatype === 'FP16') out[i - start] = finite(fromHalfBits(v as number));
    else if (typeof v === 'bigint') out[i - start] = v.toString();
    else out[i - start] = finite(v);
  }
  return out;
}

function nest(texts: readonly string[], shape: readonly number[], offset = 0): string {
  if (shape.length === 0) return texts[offset] ?? 'null';
  const rest = shape.slice(1);
  const size = elementCount(rest);
  const items = new Array<string>(shape[0]!);
  for (let i = 0; i < items.length; i++) items[i] = nest(texts, rest, offset + i * size);
  return `[${items.join(',')}]`;
}

/** The whole tensor as nested JSON text (exact 64-bit integers; non-finite floats as null). */
export function nestedJson(tensor: Tensor, bytes: BytesStyle = textBytes): string {
  return nest(elementTexts(tensor, 0, elementCount(tensor.shape), bytes), tensor.shape);
}

/** Row `row` (along dim 0) of the tensor as nested JSON text. */
export function rowJson(tensor: Tensor, row: number, bytes: BytesStyle = textBytes): string {
  const rowShape = tensor.shape.slice(1);
  const size = elementCount(rowShape);
  return nest(elementTexts(tensor, row * size, (row + 1) * size, bytes), rowShape);
}

/**
 * Row-format predictions: one entry per batch row; a value when the model has one output, an
 * object of output name → value otherwise.
 */
export function predictionsJson(outputs: readonly Tensor[], bytes: BytesStyle = textBytes): string {
  const first = outputs[0];
  if (first === undefined) return '[]';
  if (first.shape.length === 0) return `[${outputs.length === 1 ? nestedJson(first, bytes) : `{${outputs.map((o) => `${JSON.stringify(o.name)}:${nestedJson(o, bytes)}`).join(',')}}`}]`;
  const rows = first.shape[0]!;
  for (const o of outputs) {
    if (o.shape[0] !== rows) {
      throw new ServingError('INFERENCE_FAILED', `outputs '${first.name}' and '${o.name}' have ${rows} and ${o.shape[0]} rows; row-format predictions need one row count (ask for columnar 'inputs' instead)`);
    }
  }
  const items: string[] = [];
  for (let r = 0; r < rows; r++) {
    items.push(
      outputs.length === 1 ? rowJson(first, r, bytes) : `{${outputs.map((o) => `${JSON.stringify(o.name)}:${rowJson(o, r, bytes)}`).join(',')}}`,
    );
  }
  return `[${items.join(',')}]`;
}

/** Columnar outputs: the tensor when there is one output, an object of name → tensor otherwise. */
export function columnsJson(outputs: readonly Tensor[], bytes: BytesStyle = textBytes): string {
  if (outputs.length === 1) return nestedJson(outputs[0]!, bytes);
  return `{${outputs.map((o) => `${JSON.stringify(o.name)}:${nestedJson(o, bytes)}`).join(',')}}`;
}

/** Non-batch dims of an input as the model declares them ([-1,3,…] without the leading -1). */
export function rowDims(config: ModelConfig, spec: TensorSpec): number[] {
  return config.maxBatchSize > 0 ? spec.dims : spec.dims.slice(1);
}

export { formatShape };
