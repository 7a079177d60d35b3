// Triton's binary tensor data extension for OIP REST: a JSON header of `Inference-Header-Content-Length`
// bytes, then each binary tensor's raw bytes in order. Inputs mark themselves with the parameter
// `binary_data_size`; outputs are asked for with `binary_data` (per output) or `binary_data_output`
// (per request), and come back the same way.
import { quoteValue } from '../../errors/quote-value.js';
import { ServingError } from '../../errors/serving-error.js';
import { tensorDataFromBinary, tensorDataToBinary } from '../../tensor/binary.js';
import { parseDatatype, parseParameters, parseShape, tensorFromJson } from '../../tensor/from-json.js';
import type { InferenceRequest, InferenceResponse } from '../../tensor/inference.js';
import type { Parameters, Tensor } from '../../tensor/tensor.js';
import { dataToJsonText } from '../../tensor/to-json.js';
import { assembleRequest, parseJsonBody, requestEnvelope } from './oip-json.js';
import { checkBody, inferRequestSchema } from './openapi/schemas.js';

/** The header naming the JSON part's length, in requests and in responses (Node lower-cases it). */
export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

const malformed = (message: string): ServingError => new ServingError('MALFORMED_REQUEST', message);
const invalid = (message: string): ServingError => new ServingError('INVALID_INPUT', message);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The largest JSON header a binary-tensor request may have by default. Tensors sent as binary data
 * keep the header small (names, shapes, datatypes); it is parsed on the main thread, so a 100 MB
 * one would stall every other request (`--max-inference-header-bytes` changes it).
 */
export const DEFAULT_MAX_INFERENCE_HEADER_BYTES = 1024 * 1024;

/** Checks the `Inference-Header-Content-Length` value against the body it describes and the limit. */
export function parseHeaderLength(value: string | string[] | undefined, bodyBytes: number, maxHeaderBytes = DEFAULT_MAX_INFERENCE_HEADER_BYTES): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d+$/.test(text.trim())) {
    throw malformed(`Inference-Header-Content-Length must be a non-negative integer, got ${quoteValue(value)}`);
  }
  const length = Number(text.trim());
  if (length === 0) throw malformed('Inference-Header-Content-Length is 0; the JSON inference header must come first in the body');
  if (length > bodyBytes) {
    throw malformed(`Inference-Header-Content-Length is ${length} but the body has only ${bodyBytes} bytes`);
  }
  if (length > maxHeaderBytes) {
    throw new ServingError(
      'PAYLOAD_TOO_LARGE',
      `Inference-Header-Content-Length is ${length} bytes, over the limit of ${maxHeaderBytes} (--max-inference-header-bytes); send large tensors as binary data, not in the JSON header`,
    );
  }
  return length;
}

/**
 * Decodes a binary-data inference request: the JSON header is parsed (it is small: only tensors sent
 * as JSON have data in it) and each binary input becomes a view of the body, or an aligned copy.
 */
export function decodeBinaryInferRequest(
  body: Buffer | undefined,
  headerLengthValue: string | string[] | undefined,
  model: string,
  version?: string,
  maxHeaderBytes = DEFAULT_MAX_INFERENCE_HEADER_BYTES,
): InferenceRequest {
  const bytes = body ?? Buffer.alloc(0);
  const headerLength = parseHeaderLength(headerLengthValue, bytes.byteLength, maxHeaderBytes);
  const header = parseJsonBody(bytes.subarray(0, headerLength));
  const envelope = requestEnvelope(header, 'the inference header');
  checkBody(inferRequestSchema, header, 'inference header');
  const { inputs } = envelope;

  let offset = headerLength;
  const tensors = inputs.map((input: unknown): Tensor => {
    if (!isObject(input) || !isObject(input.parameters) || input.parameters.binary_data_size === undefined) {
      return tensorFromJson(input, 'input');
    }
    if (typeof input.name !== 'string' || input.name === '') throw invalid("input is missing a string 'name'");
    const what = `input '${input.name}'`;
    const size = input.parameters.binary_data_size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw invalid(`${what}: binary_data_size must be a non-negative integer, got ${quoteValue(size)}`);
    }
    if (input.data !== undefined) throw invalid(`${what}: has both 'data' and binary_data_size; send its data one way`);
    const datatype = parseDatatype(input.datatype, what);
    const shape = parseShape(input.shape, what);
    const remaining = bytes.byteLength - offset;
    if (size > remaining) {
      throw invalid(
        `${what}: binary_data_size is ${size} but only ${remaining} bytes of binary data remain in the body (truncated body, or a wrong size)`,
      );
    }
    const data = tensorDataFromBinary(datatype, shape, bytes.subarray(offset, offset + size), what);
    offset += size;
    const { binary_data_size: _size, ...rest } = parseParameters(input.parameters, what) ?? {};
    const tensor: Tensor = { name: input.name, datatype, shape, data };
    if (Object.keys(rest).length > 0) tensor.parameters = rest;
    return tensor;
  });
  if (offset !== bytes.byteLength) {
    throw invalid(
      `the body has ${bytes.byteLength - offset} bytes after the last binary input; the inputs' binary_data_size values add up to ${offset - headerLength} of the ${bytes.byteLength - headerLength} binary bytes`,
    );
  }

  return assembleRequest(model, version, envelope, tensors);
}


function flag(parameters: Parameters | undefined, key: string, what: string): boolean | undefined {
  const value = parameters?.[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${what}: parameter '${key}' must be true or false, got ${quoteValue(value)}`);
  return value;
}

/**
 * Which outputs the client wants as binary data, or undefined when all go back as JSON. The
 * request's `binary_data_output` is the default, else `acceptsBinary` (the `Accept` header, see
 * `acceptsBinaryOutput`); an output's own `binary_data` overrides both.
 */
export function binaryOutputSelector(request: InferenceRequest, acceptsBinary = false): ((name: string) => boolean) | undefined {
  const fallback = flag(request.parameters, 'binary_data_output', 'request') ?? acceptsBinary;
  const perOutput = new Map<string, boolean>();
  for (const o of request.outputs ?? []) {
    const own = flag(o.parameters, 'binary_data', `output '${o.name}'`);
    if (own !== undefined) perOutput.set(o.name, own);
  }
  if (!fallback && ![...perOutput.values()].some(Boolean)) return undefined;
  return (name) => perOutput.get(name) ?? fallback;
}

/** Checks the binary-output parameters up front, so a bad one fails before the model runs. */
export function checkBinaryOutputParameters(request: InferenceRequest): void {
  binaryOutputSelector(request);
}

/**
 * Encodes a response with some outputs as binary data: the JSON header (binary outputs carry
 * `binary_data_size` instead of `data`) followed by their raw bytes in output order.
 */
export function encodeBinaryInferResponse(
  response: InferenceResponse,
  isBinary: (name: string) => boolean,
): { headerLength: number; body: Buffer } {
  const tails: Uint8Array[] = [];
  const outputs = response.outputs.map((t) => {
    const head = `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]`;
    const params = t.parameters ?? {};
    if (!isBinary(t.name)) {
      const extra = Object.keys(params).length > 0 ? `,"parameters":${JSON.stringify(params)}` : '';
      return `${head}${extra},"data":${dataToJsonText(t.datatype, t.data)}}`;
    }
    const raw = tensorDataToBinary(t.datatype, t.data);
    tails.push(raw);
    return `${head},"parameters":${JSON.stringify({ ...params, binary_data_size: raw.byteLength })}}`;
  });
  const top: Record<string, unknown> = { model_name: response.model_name, model_version: response.model_version };
  if (response.id !== undefined) top.id = response.id;
  if (response.parameters !== undefined) top.parameters = response.parameters;
  const headerText = `${JSON.stringify(top).slice(0, -1)},"outputs":[${outputs.join(',')}]}`;
  const header = Buffer.from(headerText, 'utf8');
  return { headerLength: header.byteLength, body: Buffer.concat([header, ...tails]) };
}

/**
 * True when an `Accept` header asks for `application/octet-stream` at least as much as for JSON:
 * such a client takes binary tensor data, so its answers skip JSON number formatting. `*` wildcards
 * and a missing header keep JSON (what every OIP client reads).
 *
 * @example
 * acceptsBinaryOutput('application/octet-stream, application/json;q=0.5'); // true
 * acceptsBinaryOutput('application/json'); // false
 */
export function acceptsBinaryOutput(accept: string | undefined): boolean {
  if (accept === undefined || !accept.toLowerCase().includes('octet-stream')) return false;
  let octet: number | undefined;
  let json: number | undefined;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === 'application/octet-stream') octet = Math.max(octet ?? 0, q);
    else if (type === 'application/json') json = Math.max(json ?? 0, q);
  }
  return octet !== undefined && octet > 0 && (json === undefined || octet >= json);
}
