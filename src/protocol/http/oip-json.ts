import { ServingError } from '../../errors/serving-error.js';
import { parseParameters, tensorFromJson } from '../../tensor/from-json.js';
import type { InferenceRequest, InferenceResponse, RequestedOutput } from '../../tensor/inference.js';
import { dataToJsonText } from '../../tensor/to-json.js';
import type { Tensor } from '../../tensor/tensor.js';
import { parseJsonInPieces } from './parse-json-in-pieces.js';

/** Bodies from this size have their long arrays parsed in pieces (below it, a whole parse holds at most ~1 MB of handles). */
const PIECES_FROM_BYTES = 1024 * 1024;

const malformed = (message: string): ServingError => new ServingError('MALFORMED_REQUEST', message);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a request body as JSON, naming the parse error rather than answering a bare 400. */
export function parseJsonBody(body: Buffer | string | undefined): unknown {
  try {
    // Tensor data of a large body is parsed in pieces: the memory a thread's allocator keeps afterwards
    // is bounded by a piece, not by the body (parse-json-in-pieces.ts).
    if (Buffer.isBuffer(body) && body.length >= PIECES_FROM_BYTES) return parseJsonInPieces(body);
    const text = typeof body === 'string' ? body : body?.toString('utf8') ?? '';
    if (text.trim() === '') throw malformed('request body is empty; expected a JSON object');
    return JSON.parse(text);
  } catch (error) {
    if (error instanceof ServingError) throw error;
    throw malformed(`request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** The fields of an OIP request around its tensors, checked once for JSON and binary bodies alike. */
export interface RequestEnvelope {
  id?: string;
  inputs: unknown[];
  outputs?: unknown;
  parameters?: unknown;
}

/** Checks an OIP request object's shape (`what` names it in errors) and returns its fields. */
export function requestEnvelope(body: unknown, what: string): RequestEnvelope {
  if (!isObject(body)) throw malformed(`${what} must be a JSON object with an "inputs" array`);
  const { id, inputs, outputs, parameters } = body;
  if (!Array.isArray(inputs) || inputs.length === 0) throw malformed("'inputs' must be a non-empty array of tensors");
  if (id !== undefined && typeof id !== 'string') throw malformed("'id' must be a string");
  return { inputs, ...(id !== undefined && { id }), outputs, parameters };
}

/**
 * The internal request from an envelope and its decoded tensors. The decoders allocated (or own)
 * every buffer, so the tensors may move to the worker uncopied.
 */
export function assembleRequest(model: string, version: string | undefined, envelope: RequestEnvelope, inputs: Tensor[]): InferenceRequest {
  const request: InferenceRequest = { model, inputs, transferInputs: true };
  if (version !== undefined) request.version = version;
  if (envelope.id !== undefined) request.id = envelope.id;
  const params = parseParameters(envelope.parameters, 'request');
  if (params !== undefined) request.parameters = params;
  if (envelope.outputs !== undefined) request.outputs = decodeRequestedOutputs(envelope.outputs);
  return request;
}

/** Decodes an OIP v2 JSON inference request body into the internal request. */
export function decodeInferRequest(body: unknown, model: string, version?: string): InferenceRequest {
  const envelope = requestEnvelope(body, 'request body');
  return assembleRequest(model, version, envelope, envelope.inputs.map((t) => tensorFromJson(t, 'input')));
}

function decodeRequestedOutputs(outputs: unknown): RequestedOutput[] {
  if (!Array.isArray(outputs)) throw malformed("'outputs' must be an array of {\"name\": ...} objects");
  return outputs.map((o, i) => {
    if (!isObject(o) || typeof o.name !== 'string') throw malformed(`outputs[${i}] must be an object with a string 'name'`);
    const parameters = parseParameters(o.parameters, `output '${o.name}'`);
    return parameters ? { name: o.name, parameters } : { name: o.name };
  });
}

/**
 * Writes the OIP v2 JSON response. Built as text so tensor data goes straight from typed arrays
 * to JSON without an intermediate array (and 64-bit integers stay exact).
 */
export function encodeInferResponse(response: InferenceResponse): string {
  const head: Record<string, unknown> = { model_name: response.model_name, model_version: response.model_version };
  if (response.id !== undefined) head.id = response.id;
  if (response.parameters !== undefined) head.parameters = response.parameters;
  const outputs = response.outputs.map(
    (t) =>
      `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}],"data":${dataToJsonText(t.datatype, t.data)}}`,
  );
  const headText = JSON.stringify(head);
  return `${headText.slice(0, -1)},"outputs":[${outputs.join(',')}]}`;
}
