// The fallback: the same model's routes on the Slipway server, so a server answer has the shape an
// on-device one has. Handler requests go to POST /api/models/{m}/predict (multipart when they carry
// files, as the UI sends them), OIP requests to POST /v2/models/{m}/infer.
import type { ErrorCode } from '../../errors/codes.js';
import { dataToJsonText } from '../../tensor/to-json.js';
import { DATATYPE_INFO, isDatatype } from '../../tensor/datatypes.js';
import type { InferAnswer, InferBody, PredictInput } from './worker-messages.js';

/** A failed prediction, wherever it ran: the server's code and status, or the device's. */
export class EdgeError extends Error {
  override readonly name = 'EdgeError';
  constructor(
    message: string,
    /** Slipway's error code (`INVALID_INPUT`, `HANDLER_FAILED`, …). */
    readonly code: ErrorCode | string,
    /** Where it failed. */
    readonly ranOn: 'device' | 'server',
    /** The server's HTTP status (0 when it could not be reached); undefined for the device. */
    readonly status?: number,
  ) {
    super(message);
  }
}

const isFileLike = (v: unknown): v is Blob | ArrayBuffer | Uint8Array => v instanceof Blob || v instanceof ArrayBuffer || v instanceof Uint8Array;

/** An OIP body as JSON text; typed arrays written exactly (64-bit integers too), as the server writes them. */
function inferJson(body: InferBody): string {
  const inputs = body.inputs.map((t) => {
    if (!ArrayBuffer.isView(t.data) || !isDatatype(t.datatype) || DATATYPE_INFO[t.datatype].arrayType === undefined) return JSON.stringify(t);
    const { data, ...rest } = t;
    const head = JSON.stringify(rest);
    return `${head.slice(0, -1)},"data":${dataToJsonText(t.datatype, data as Float32Array)}}`;
  });
  const { inputs: _inputs, ...envelope } = body;
  const head = JSON.stringify(envelope);
  return `${head === '{}' ? '{' : `${head.slice(0, -1)},`}"inputs":[${inputs.join(',')}]}`;
}

export class ServerClient {
  constructor(
    /** The server's base URL (its root, or the prefix Slipway is mounted under). */
    readonly base: URL,
    readonly model: string,
  ) {}

  private async post(path: string, init: RequestInit): Promise<unknown> {
    const url = new URL(path, this.base);
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', ...init });
    } catch (error) {
      throw new EdgeError(`the server at ${this.base.href} could not be reached: ${(error as Error).message}`, 'UNAVAILABLE', 'server', 0);
    }
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text for the message
    }
    if (!response.ok) {
      const fields = typeof body === 'object' && body !== null ? (body as { error?: unknown; code?: unknown }) : {};
      const message = typeof fields.error === 'string' ? fields.error : `${response.status} ${response.statusText}`;
      throw new EdgeError(message, typeof fields.code === 'string' ? fields.code : 'INTERNAL', 'server', response.status);
    }
    return body;
  }

  /** POST /api/models/{m}/predict: multipart when the input has files, JSON otherwise. */
  predict(input: PredictInput): Promise<unknown> {
    const path = `api/models/${encodeURIComponent(this.model)}/predict`;
    if (input.kind === 'form') {
      const form = new FormData();
      for (const { name, value } of input.fields) form.append(name, value);
      for (const { name, file, filename } of input.files) form.append(name, file, filename ?? (file as File).name ?? name);
      return this.post(path, { body: form });
    }
    const entries = Object.entries(input.values);
    if (!entries.some(([, v]) => isFileLike(v) || (Array.isArray(v) && v.some(isFileLike)))) {
      return this.post(path, { body: JSON.stringify(input.values), headers: { 'content-type': 'application/json' } });
    }
    const form = new FormData();
    const append = (name: string, value: unknown): void => {
      if (value instanceof Blob) form.append(name, value, (value as File).name ?? name);
      else if (value instanceof ArrayBuffer || value instanceof Uint8Array) form.append(name, new Blob([value as BlobPart]), name);
      else form.append(name, typeof value === 'string' ? value : JSON.stringify(value));
    };
    for (const [name, value] of entries) {
      if (Array.isArray(value) && value.some(isFileLike)) value.forEach((v) => append(name, v));
      else append(name, value);
    }
    return this.post(path, { body: form });
  }

  /** POST /v2/models/{m}/infer */
  async infer(body: InferBody): Promise<InferAnswer> {
    return (await this.post(`v2/models/${encodeURIComponent(this.model)}/infer`, {
      body: inferJson(body),
      headers: { 'content-type': 'application/json' },
    })) as InferAnswer;
  }
}
