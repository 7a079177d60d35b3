// OIP gRPC messages <-> the internal tensors, both ways (the server decodes requests and encodes
// responses; the client does the reverse with the same functions).
import { ServingError } from '../../errors/serving-error.js';
import { byteElementsFromText, tensorDataFromBinary, tensorDataToBinary, textFromByteElements } from '../../tensor/binary.js';
import { DATATYPE_INFO, allocateData, type Datatype, type TensorData } from '../../tensor/datatypes.js';
import { parseDatatype, parseShape } from '../../tensor/from-json.js';
import type { InferenceRequest, InferenceResponse, RequestedOutput } from '../../tensor/inference.js';
import { elementCount, formatShape, type Parameters, type Tensor } from '../../tensor/tensor.js';
import { CONTENTS_FIELD as CONTENTS_BY_DATATYPE } from './contents-field.js';
import type {
  WireContents,
  WireInferRequest,
  WireInferResponse,
  WireInputTensor,
  WireOutputTensor,
  WireParameter,
} from './proto.js';

const invalid = (message: string): ServingError => new ServingError('INVALID_INPUT', message);
const malformed = (message: string): ServingError => new ServingError('MALFORMED_REQUEST', message);

// Typed here: the compiler checks that every datatype is listed and every field is the wire's.
const CONTENTS_FIELD: Readonly<Record<Datatype, keyof WireContents | undefined>> = CONTENTS_BY_DATATYPE;

const CONTENTS_FIELDS = [...new Set(Object.values(CONTENTS_FIELD).filter((f) => f !== undefined))] as Array<keyof WireContents>;

/** Converts the wire's int64 shape (decimal strings) to dimensions, naming the bad one. */
function shapeFromWire(shape: Array<string | number> | undefined, what: string): number[] {
  const dims = (shape ?? []).map((d) => (typeof d === 'string' ? Number(d) : d));
  return parseShape(dims, what);
}

/** InferParameter map → internal parameters (bool, number or string). */
export function parametersFromWire(wire: Record<string, WireParameter> | undefined, what: string): Parameters | undefined {
  if (wire === undefined) return undefined;
  const entries = Object.entries(wire);
  if (entries.length === 0) return undefined;
  const out: Parameters = {};
  for (const [key, p] of entries) {
    switch (p.parameter_choice) {
      case 'bool_param':
        out[key] = p.bool_param === true;
        break;
      case 'string_param':
        out[key] = p.string_param ?? '';
        break;
      case 'double_param':
        out[key] = p.double_param ?? 0;
        break;
      case 'int64_param':
      case 'uint64_param': {
        const value = Number(p[p.parameter_choice] ?? 0);
        if (!Number.isSafeInteger(value)) throw invalid(`${what}: parameter '${key}' is ${p[p.parameter_choice]}, beyond ±(2^53-1)`);
        out[key] = value;
        break;
      }
      default:
        throw invalid(`${what}: parameter '${key}' has no value (set one of bool_param, int64_param, string_param, double_param, uint64_param)`);
    }
  }
  return out;
}

/** Internal parameters → InferParameter map: integers as int64_param, other numbers as double_param. */
export function parametersToWire(parameters: Parameters | undefined): Record<string, WireParameter> | undefined {
  if (parameters === undefined) return undefined;
  const out: Record<string, WireParameter> = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (typeof value === 'boolean') out[key] = { bool_param: value };
    else if (typeof value === 'string') out[key] = { string_param: value };
    else if (Number.isSafeInteger(value)) out[key] = { int64_param: String(value) };
    else out[key] = { double_param: value };
  }
  return out;
}

/**
 * Decodes one wire tensor (input or output) with its data from `raw` (raw_*_contents) or from its
 * typed `contents`, checking the element count against the shape and each value against the type.
 */
export function tensorFromWire(wire: WireInputTensor | WireOutputTensor, raw: Uint8Array | undefined, role: string): Tensor {
  if (typeof wire.name !== 'string' || wire.name === '') throw invalid(`${role} is missing its 'name'`);
  const what = `${role} '${wire.name}'`;
  const datatype = parseDatatype(wire.datatype, what);
  const shape = shapeFromWire(wire.shape, what);
  const data = raw !== undefined ? tensorDataFromBinary(datatype, shape, raw, what) : dataFromContents(wire.contents ?? undefined, datatype, shape, what);
  const tensor: Tensor = { name: wire.name, datatype, shape, data };
  const parameters = parametersFromWire(wire.parameters, what);
  if (parameters !== undefined) tensor.parameters = parameters;
  return tensor;
}

function dataFromContents(contents: WireContents | undefined, datatype: Datatype, shape: number[], what: string): TensorData {
  const field = CONTENTS_FIELD[datatype];
  if (field === undefined) {
    throw invalid(`${what}: ${datatype} has no typed contents field; send its data in raw_input_contents (little-endian IEEE half floats)`);
  }
  for (const other of CONTENTS_FIELDS) {
    if (other !== field && (contents?.[other]?.length ?? 0) > 0) {
      throw invalid(`${what}: a ${datatype} tensor's data goes in contents.${field}, but contents.${other} was given`);
    }
  }
  const values = (contents?.[field] ?? []) as unknown[];
  const expected = elementCount(shape);
  if (values.length !== expected) {
    throw invalid(`${what}: shape ${formatShape(shape)} has ${expected} elements but contents.${field} has ${values.length}`);
  }
  if (datatype === 'BYTES') return textFromByteElements(values as Uint8Array[], what);
  const info = DATATYPE_INFO[datatype];
  const out = allocateData(datatype, expected);
  switch (info.kind) {
    case 'bool': {
      const a = out as Uint8Array;
      for (let i = 0; i < expected; i++) a[i] = values[i] === true ? 1 : 0;
      return a;
    }
    case 'int': {
      // int_contents/uint_contents are 32-bit on the wire; INT8/INT16/UINT8/UINT16 must fit their type.
      const a = out as Int32Array;
      const min = info.min as number;
      const max = info.max as number;
      for (let i = 0; i < expected; i++) {
        const v = values[i] as number;
        if (v < min || v > max) throw invalid(`${what}: element ${i} is ${v}, expected an integer in [${min}, ${max}] for ${datatype}`);
        a[i] = v;
      }
      return a;
    }
    case 'bigint': {
      const a = out as BigInt64Array;
      for (let i = 0; i < expected; i++) a[i] = BigInt(values[i] as string);
      return a;
    }
    case 'float': {
      const a = out as Float32Array;
      for (let i = 0; i < expected; i++) a[i] = values[i] as number;
      return a;
    }
    case 'bytes':
      throw new ServingError('INTERNAL', 'unreachable: BYTES handled above');
  }
}

/** One tensor's data as typed contents (the caller has ruled FP16 out). */
function contentsFromData(datatype: Datatype, data: TensorData): WireContents {
  const field = CONTENTS_FIELD[datatype]!;
  switch (datatype) {
    case 'BYTES':
      return { bytes_contents: byteElementsFromText(data as string[]).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)) };
    case 'BOOL':
      return { bool_contents: Array.from(data as Uint8Array, (v) => v !== 0) };
    case 'INT64':
    case 'UINT64':
      return { [field]: Array.from(data as BigInt64Array, String) };
    default:
      return { [field]: Array.from(data as Float32Array) };
  }
}

/**
 * Wire tensors plus their raw contents: raw when `raw` is set or any tensor is FP16 (which has no
 * typed field; the spec forbids mixing raw and typed in one message), typed contents otherwise.
 */
export function tensorsToWire(tensors: readonly Tensor[], raw: boolean): { tensors: WireOutputTensor[]; raw?: Buffer[] } {
  const useRaw = raw || tensors.some((t) => t.datatype === 'FP16');
  const out: WireOutputTensor[] = [];
  const rawContents: Buffer[] = [];
  for (const t of tensors) {
    const wire: WireOutputTensor = { name: t.name, datatype: t.datatype, shape: t.shape };
    const parameters = parametersToWire(t.parameters);
    if (parameters !== undefined) wire.parameters = parameters;
    if (useRaw) {
      const bytes = tensorDataToBinary(t.datatype, t.data);
      rawContents.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } else {
      wire.contents = contentsFromData(t.datatype, t.data);
    }
    out.push(wire);
  }
  return useRaw ? { tensors: out, raw: rawContents } : { tensors: out };
}

/** Whether a request sent its data raw (then the answer goes back raw too). */
export function usesRawContents(request: WireInferRequest): boolean {
  return (request.raw_input_contents?.length ?? 0) > 0;
}

/** ModelInferRequest → the internal request. */
export function decodeGrpcInferRequest(wire: WireInferRequest): InferenceRequest {
  if (typeof wire.model_name !== 'string' || wire.model_name === '') throw malformed("'model_name' is required");
  const inputs = wire.inputs ?? [];
  if (inputs.length === 0) throw malformed("'inputs' must hold at least one tensor");
  const raw = wire.raw_input_contents ?? [];
  if (raw.length > 0) {
    if (raw.length !== inputs.length) {
      throw invalid(`raw_input_contents has ${raw.length} entries but there are ${inputs.length} inputs; give one per input, in the same order`);
    }
    const typed = inputs.find((t) => CONTENTS_FIELDS.some((f) => (t.contents?.[f]?.length ?? 0) > 0));
    if (typed !== undefined) {
      throw invalid(`input '${typed.name}' has typed contents, but raw_input_contents is used; the spec allows one or the other per request`);
    }
  }
  const request: InferenceRequest = {
    model: wire.model_name,
    inputs: inputs.map((t, i) => tensorFromWire(t, raw.length > 0 ? raw[i] : undefined, 'input')),
    transferInputs: true,
  };
  if (wire.model_version !== undefined && wire.model_version !== '') request.version = wire.model_version;
  if (wire.id !== undefined && wire.id !== '') request.id = wire.id;
  const parameters = parametersFromWire(wire.parameters, 'request');
  if (parameters !== undefined) request.parameters = parameters;
  if ((wire.outputs?.length ?? 0) > 0) {
    request.outputs = wire.outputs!.map((o, i): RequestedOutput => {
      if (typeof o.name !== 'string' || o.name === '') throw malformed(`outputs[${i}] is missing its 'name'`);
      const params = parametersFromWire(o.parameters, `output '${o.name}'`);
      return params === undefined ? { name: o.name } : { name: o.name, parameters: params };
    });
  }
  return request;
}

/** The internal response → ModelInferResponse, raw or typed as the request was. */
export function encodeGrpcInferResponse(response: InferenceResponse, raw: boolean): WireInferResponse {
  const { tensors, raw: rawContents } = tensorsToWire(response.outputs, raw);
  const wire: WireInferResponse = { model_name: response.model_name, model_version: response.model_version, outputs: tensors };
  if (rawContents !== undefined) wire.raw_output_contents = rawContents;
  if (response.id !== undefined) wire.id = response.id;
  const parameters = parametersToWire(response.parameters);
  if (parameters !== undefined) wire.parameters = parameters;
  return wire;
}

/** ModelInferResponse → tensors (the client's side). */
export function decodeGrpcInferResponse(wire: WireInferResponse): InferenceResponse {
  const raw = wire.raw_output_contents ?? [];
  if (raw.length > 0 && raw.length !== wire.outputs.length) {
    throw malformed(`raw_output_contents has ${raw.length} entries for ${wire.outputs.length} outputs`);
  }
  const response: InferenceResponse = {
    model_name: wire.model_name,
    model_version: wire.model_version,
    outputs: wire.outputs.map((t, i) => tensorFromWire(t, raw.length > 0 ? raw[i] : undefined, 'output')),
  };
  if (wire.id !== undefined && wire.id !== '') response.id = wire.id;
  const parameters = parametersFromWire(wire.parameters, 'response');
  if (parameters !== undefined) response.parameters = parameters;
  return response;
}

/** The internal request → ModelInferRequest (the client's side). */
export function encodeGrpcInferRequest(request: InferenceRequest, raw: boolean): WireInferRequest {
  const { tensors, raw: rawContents } = tensorsToWire(request.inputs, raw);
  const wire: WireInferRequest = { model_name: request.model, inputs: tensors };
  if (rawContents !== undefined) wire.raw_input_contents = rawContents;
  if (request.version !== undefined) wire.model_version = request.version;
  if (request.id !== undefined) wire.id = request.id;
  const parameters = parametersToWire(request.parameters);
  if (parameters !== undefined) wire.parameters = parameters;
  if (request.outputs !== undefined) {
    wire.outputs = request.outputs.map((o) => {
      const params = parametersToWire(o.parameters);
      return params === undefined ? { name: o.name } : { name: o.name, parameters: params };
    });
  }
  return wire;
}
