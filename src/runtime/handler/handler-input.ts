import { z } from 'zod';
import { formatIssues } from '../../config/format-issues.js';
import { ServingError } from '../../errors/serving-error.js';
import { isDatatype, type Datatype, type TensorData } from '../../tensor/datatypes.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { HandlerDefinition, ModelInputs } from './define-handler.js';
import { FILE_FIELD_KEYWORD, TOO_LARGE_PARAM, type UploadedFile } from './file-schema.js';
import type { HandlerDescription, PredictPayload } from './handler-messages.js';

type JsonSchema = Record<string, unknown>;

function isZodSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && typeof (value as { safeParseAsync?: unknown }).safeParseAsync === 'function';
}

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';

/**
 * Checks that a handler module's default export is a usable definition, with a message that says
 * what to write instead.
 */
export function checkDefinition(value: unknown, file: string, hasGraph: boolean): HandlerDefinition {
  const where = file.split(/[\\/]/).pop() ?? file;
  if (typeof value !== 'object' || value === null) {
    throw new Error(`${where} must \`export default defineHandler({ input, output, predict })\`; its default export is ${value === null ? 'null' : typeof value}`);
  }
  const d = value as Record<string, unknown>;
  const problems: string[] = [];
  if (!isZodSchema(d.input)) problems.push('`input` must be a zod schema (e.g. z.object({...}))');
  if (!isZodSchema(d.output)) problems.push('`output` must be a zod schema');
  if (d.setup !== undefined && !isFunction(d.setup)) problems.push('`setup` must be a function');
  if (d.compare !== undefined && !isFunction(d.compare)) problems.push('`compare` must be a function');
  const predict = isFunction(d.predict);
  const pre = isFunction(d.preprocess);
  const post = isFunction(d.postprocess);
  if (predict && (pre || post)) problems.push('define either `predict` or `preprocess` + `postprocess`, not both');
  else if (!predict && !(pre && post)) {
    problems.push(pre || post ? '`preprocess` and `postprocess` go together; one of them is missing' : 'it needs a `predict` function (or `preprocess` + `postprocess`)');
  } else if (pre && !hasGraph) {
    problems.push('`preprocess`/`postprocess` run around the model\'s own graph, but this folder has no <version>/model.onnx; use `predict` and ctx.infer() for a pipeline');
  }
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
  return value as HandlerDefinition;
}

/** JSON Schemas of the definition's request and response, and which request fields take files. */
export function describeDefinition(definition: HandlerDefinition): HandlerDescription {
  const inputSchema = z.toJSONSchema(definition.input, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const outputSchema = z.toJSONSchema(definition.output, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
  const properties = (inputSchema.properties ?? {}) as Record<string, JsonSchema>;
  const fileFields = Object.entries(properties)
    .filter(([, schema]) => schema[FILE_FIELD_KEYWORD] !== undefined || (schema.items as JsonSchema | undefined)?.[FILE_FIELD_KEYWORD] !== undefined)
    .map(([name]) => name);
  return {
    ...(definition.description !== undefined && { description: definition.description }),
    mode: 'predict' in definition ? 'predict' : 'graph',
    inputSchema,
    outputSchema,
    fileFields,
    compares: definition.compare !== undefined,
  };
}

function acceptsString(schema: JsonSchema | undefined): boolean {
  if (schema === undefined) return false;
  if (schema[FILE_FIELD_KEYWORD] !== undefined) return true;
  const type = schema.type;
  if (type === 'string' || (Array.isArray(type) && type.includes('string'))) return true;
  const options = [schema.anyOf, schema.oneOf].flatMap((o) => (Array.isArray(o) ? (o as JsonSchema[]) : []));
  return options.some(acceptsString);
}

/**
 * A multipart text part is a string on the wire. It stays one where the schema takes a string;
 * elsewhere it is read as JSON (`3`, `true`, `[1,2]`, `{"a":1}`), and left as text if it is not
 * JSON, so the schema's error names the field.
 */
function coerceField(value: string, schema: JsonSchema | undefined): unknown {
  if (acceptsString(schema)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function isArraySchema(schema: JsonSchema | undefined): boolean {
  return schema?.type === 'array';
}

/** Turns what the HTTP layer received into the value the input schema validates. */
export function rawInput(payload: PredictPayload, description: HandlerDescription): unknown {
  if (payload.kind === 'json') {
    if (payload.body.byteLength === 0) return {};
    try {
      return JSON.parse(Buffer.from(payload.body.buffer, payload.body.byteOffset, payload.body.byteLength).toString('utf8'));
    } catch (error) {
      throw new ServingError('MALFORMED_REQUEST', `request body is not valid JSON: ${(error as Error).message}`);
    }
  }
  const properties = (description.inputSchema.properties ?? {}) as Record<string, JsonSchema>;
  if (payload.kind === 'file') {
    return { [payload.field]: isArraySchema(properties[payload.field]) ? [payload.file] : payload.file };
  }
  return formInput(payload.fields, payload.files, description);
}

/**
 * A multipart form as the input schema sees it: text parts read as JSON where the schema wants
 * something else than a string, repeated names and array fields as lists.
 */
export function formInput(
  fields: ReadonlyArray<{ name: string; value: string }>,
  files: ReadonlyArray<{ name: string; file: UploadedFile }>,
  description: Pick<HandlerDescription, 'inputSchema'>,
): Record<string, unknown> {
  const properties = (description.inputSchema.properties ?? {}) as Record<string, JsonSchema>;
  const values = new Map<string, unknown[]>();
  const add = (name: string, value: unknown): void => {
    const list = values.get(name);
    if (list === undefined) values.set(name, [value]);
    else list.push(value);
  };
  for (const { name, value } of fields) add(name, coerceField(value, isArraySchema(properties[name]) ? (properties[name]!.items as JsonSchema) : properties[name]));
  for (const { name, file } of files) add(name, file);
  const input: Record<string, unknown> = {};
  for (const [name, list] of values) input[name] = list.length === 1 && !isArraySchema(properties[name]) ? list[0] : list;
  return input;
}

/** A failed input validation as the client sees it: every problem with its field, 413 for size limits. */
export function inputError(error: z.ZodError): ServingError {
  const tooLarge = error.issues.some((i) => (i as { params?: Record<string, unknown> }).params?.[TOO_LARGE_PARAM] === true);
  const problems = formatIssues(error).join('; ');
  return new ServingError(tooLarge ? 'PAYLOAD_TOO_LARGE' : 'INVALID_INPUT', `invalid input: ${problems}`);
}

const DATATYPE_BY_ARRAY: ReadonlyArray<[abstract new (...args: never[]) => unknown, Datatype]> = [
  [Float32Array, 'FP32'],
  [Float64Array, 'FP64'],
  [Int32Array, 'INT32'],
  [BigInt64Array, 'INT64'],
  [Uint8Array, 'UINT8'],
  [Int8Array, 'INT8'],
  [Int16Array, 'INT16'],
  [Uint16Array, 'UINT16'],
  [Uint32Array, 'UINT32'],
  [BigUint64Array, 'UINT64'],
];

function datatypeOf(name: string, data: TensorData, what: string): Datatype {
  if (Array.isArray(data)) return 'BYTES';
  // Buffer is a Uint8Array subclass; Uint8ClampedArray is not in the table and gets the error below.
  const found = DATATYPE_BY_ARRAY.find(([ctor]) => data instanceof ctor);
  if (found === undefined) {
    throw new TypeError(`${what} '${name}': cannot tell the datatype of ${(data as object)?.constructor?.name ?? typeof data}; give \`datatype\``);
  }
  return found[1];
}

/**
 * Normalises `ctx.infer` inputs (or a tensor handler's answer) into named tensors, inferring
 * datatypes from typed arrays; `what` names them in errors.
 */
export function toTensors(inputs: ModelInputs, what = 'ctx.infer: input'): Tensor[] {
  if (typeof inputs !== 'object' || inputs === null) throw new TypeError(`${what}s must be an object of name → tensor or a list of named tensors, not ${inputs === null ? 'null' : typeof inputs}`);
  const entries: Array<[string, { datatype?: unknown; shape?: unknown; data?: unknown }]> = Array.isArray(inputs)
    ? inputs.map((t) => [t.name, t])
    : Object.entries(inputs);
  return entries.map(([name, t]) => {
    if (typeof name !== 'string' || name === '') throw new TypeError(`${what}: every tensor needs a name`);
    if (typeof t !== 'object' || t === null) throw new TypeError(`${what} '${name}': expected { shape, data }, got ${t === null ? 'null' : typeof t}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new TypeError(`${what} '${name}': shape must be an array of non-negative integers`);
    }
    const data = t.data as TensorData;
    if (!Array.isArray(data) && !ArrayBuffer.isView(data)) throw new TypeError(`${what} '${name}': data must be a typed array or, for BYTES, an array of strings`);
    const datatype = t.datatype === undefined ? datatypeOf(name, data, what) : t.datatype;
    if (!isDatatype(datatype)) throw new TypeError(`${what} '${name}': unknown datatype '${String(datatype)}'`);
    return { name, datatype, shape: t.shape as number[], data };
  });
}
