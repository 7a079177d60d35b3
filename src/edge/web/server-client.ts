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

/** An API key for the fallback, or a function that returns one per call (a short-lived token from the page's backend). */
export type ApiKeySource = string | (() => string | undefined | Promise<string | undefined>);

/**
 * What to do about a 401 or 403: the page's author decides where the key comes from, so say how to
 * give one. A key written into a public page is readable by anyone who opens it.
 */
function accessMessage(status: number, serverMessage: string, base: string, sentKey: boolean): string {
  if (status === 403) return `the server at ${base} refused the API key given to load({ apiKey }) for this route (403: ${serverMessage})`;
  return sentKey
    ? `the server at ${base} refused the API key given to load({ apiKey }) (401: ${serverMessage})`
    : `the server at ${base} needs an API key for inference (401: ${serverMessage}): pass load({ apiKey }) a per-user token from your backend (never a long-lived key written into a public page), or, on a page served by that server, sign in on its UI first`;
}

export class ServerClient {
  constructor(
    /** The server's base URL (its root, or the prefix Slipway is mounted under). */
    readonly base: URL,
    readonly model: string,
    /** Sent as `Authorization: Bearer <key>` on every call; none when absent or when it returns undefined or ''. */
    private readonly apiKey?: ApiKeySource,
  ) {}

  private async key(): Promise<string | undefined> {
    if (this.apiKey === undefined) return undefined;
    let key: string | undefined;
    try {
      key = typeof this.apiKey === 'function' ? await this.apiKey() : this.apiKey;
    } catch (error) {
      throw new EdgeError(`the apiKey function given to load() failed: ${(error as Error).message}`, 'UNAUTHENTICATED', 'server', 0);
    }
    return key === undefined || key === '' ? undefined : key;
  }

  private async post(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<unknown> {
    const url = new URL(path, this.base);
    const key = await this.key();
    const headers = { ...init.headers, ...(key !== undefined && { authorization: `Bearer ${key}` }) };
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', ...init, headers });
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
      const serverMessage = typeof fields.error === 'string' ? fields.error : `${response.status} ${response.statusText}`;
      const code = typeof fields.code === 'string' ? fields.code : response.status === 401 ? 'UNAUTHENTICATED' : response.status === 403 ? 'PERMISSION_DENIED' : 'INTERNAL';
      const message = response.status === 401 || response.status === 403 ? accessMessage(response.status, serverMessage, this.base.href, key !== undefined) : serverMessage;
      throw new EdgeError(message, code, 'server', response.status);
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
