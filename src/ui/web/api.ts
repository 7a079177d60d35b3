// The UI is a plain client of the server's public HTTP APIs: these are the only calls it makes.

export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema | false;
  prefixItems?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  maxLength?: number;
  format?: string;
  'x-slipway-file'?: 'file' | 'image';
};

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

/** GET /api/models */
export interface ModelSummary {
  name: string;
  kind: 'graph' | 'pipeline';
  state: ModelState;
  /** `mode: 'tensor'`: a tensor handler, called with tensors over OIP like a graph (no form of its own). */
  handler: { state: ModelState; mode?: 'tensor' } | null;
  /** What the handler says the model does. */
  description?: string;
  /** The models a handler calls (its config's `handler.uses`). */
  uses?: string[];
  /** The models whose handlers use this one. */
  part_of?: string[];
}

/** GET /api/models/{m} */
export interface ModelDescription {
  name: string;
  kind: 'graph' | 'pipeline';
  state: ModelState;
  reason?: string;
  versions: Array<{ version: string; state: ModelState; reason: string }>;
  handler: null | {
    file?: string;
    state: ModelState;
    reason: string;
    mode?: 'predict' | 'graph' | 'tensor';
    description?: string;
    predict?: { method: string; path: string; content_types: string[] };
    input_schema?: JsonSchema;
    output_schema?: JsonSchema;
    file_fields?: string[];
    uses?: string[];
    limits: { timeout_ms: number; max_file_bytes: number; max_files: number; max_concurrency: number };
  };
}

// The wire shapes the server's own types describe (type-only: nothing of the server is bundled).
/** GET /v2/models/{m} */
export type { ModelMetadata, TensorMetadata } from '../../protocol/metadata-types.js';

/** POST /v2/repository/index */
export interface IndexEntry {
  name: string;
  version?: string;
  state: ModelState;
  reason: string;
}

export interface OipTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** POST /v2/models/{m}/infer */
export interface InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: OipTensor[];
}

/** GET /api/models/{m}/examples */
export type { ModelExample } from '../model-example.js';

export type FlagLabel = 'right' | 'wrong' | 'other';

/** A flag as GET /api/feedback lists it. */
export interface FlagRecord {
  id: number;
  created_at: string;
  model: string;
  model_version: string | null;
  api: 'predict' | 'infer';
  label: FlagLabel;
  expected: string | null;
  comment: string;
  latency_ms: number | null;
  input: unknown;
  output: unknown;
}

export interface FlagPage {
  flags: FlagRecord[];
  total: number;
  next_before: number | null;
  store: string;
}

export interface ServerTiming {
  name: string;
  durationMs?: number;
  description?: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface Timed<T> {
  body: T;
  status: number;
  /** Round trip as the browser saw it: request sent to last byte read. */
  latencyMs: number;
  serverTiming: ServerTiming[];
}

/** The window event a refused call raises (its detail: the server's message); the sign-in form listens. */
export const SIGN_IN_NEEDED = 'slipway-sign-in-needed';

/** GET /api/session */
export interface SessionState {
  signed_in: boolean;
  group: 'inference' | 'ui' | 'admin' | null;
  key_required: { inference: boolean; ui: boolean };
}

/** A path of this server, relative to the page's base (the server may be mounted under a prefix). */
export function apiUrl(path: string): string {
  return new URL(path.replace(/^\//, ''), document.baseURI).toString();
}

/** `Server-Timing: queue;dur=0.041, compute;dur=0.233, batch;desc=12` → entries. */
export function parseServerTiming(header: string | null): ServerTiming[] {
  if (header === null || header.trim() === '') return [];
  return header.split(',').map((entry) => {
    const [name = '', ...params] = entry.split(';').map((p) => p.trim());
    const timing: ServerTiming = { name };
    for (const param of params) {
      const [key, raw = ''] = param.split('=');
      const value = raw.replace(/^"|"$/g, '');
      if (key === 'dur' && value !== '' && Number.isFinite(Number(value))) timing.durationMs = Number(value);
      if (key === 'desc') timing.description = value;
    }
    return timing;
  });
}

/**
 * Answers a call of the page without the network (the on-device model, see device-switch.tsx), or
 * returns undefined to let the server answer it.
 */
export type LocalAnswer = (path: string, init: RequestInit) => Promise<Timed<unknown>> | undefined;

const localAnswers = new Set<LocalAnswer>();

/** Routes the page's calls through `answer` first, until the returned function is called. */
export function answerLocally(answer: LocalAnswer): () => void {
  localAnswers.add(answer);
  return () => localAnswers.delete(answer);
}

/** The on-device answer to a call, when a local answer takes it. */
function answeredLocally<T>(path: string, init: RequestInit): Promise<Timed<T>> | undefined {
  for (const answer of localAnswers) {
    const local = answer(path, init);
    if (local !== undefined) return local as Promise<Timed<T>>;
  }
  return undefined;
}

/** Calls the server and reads the answer as JSON; a non-2xx answer throws ApiError with the server's message. */
export async function call<T>(path: string, init: RequestInit = {}): Promise<Timed<T>> {
  return answeredLocally<T>(path, init) ?? callUrl<T>(apiUrl(path), init);
}

/** `call` for a full URL, past any local answers. */
export async function callUrl<T>(url: string, init: RequestInit = {}): Promise<Timed<T>> {
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(`cannot reach the server: ${(error as Error).message}`, 0);
  }
  const text = await response.text();
  const latencyMs = performance.now() - started;
  const body = answerBody(response.status, response.statusText, response.headers.get('content-type'), text);
  return { body: body as T, status: response.status, latencyMs, serverTiming: parseServerTiming(response.headers.get('server-timing')) };
}

/** An answer's body, JSON when it says so; a non-2xx one throws ApiError with the server's message and code. */
function answerBody(status: number, statusText: string, contentType: string | null, text: string): unknown {
  let body: unknown = text;
  if ((contentType ?? '').includes('json') && text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (status < 200 || status >= 300) {
    const fields = typeof body === 'object' && body !== null ? (body as { error?: unknown; code?: unknown }) : {};
    const message = typeof fields.error === 'string' ? fields.error : `${status} ${statusText}`;
    const code = typeof fields.code === 'string' ? fields.code : undefined;
    // A missing key, or one that does not open this route: the sign-in form asks for one.
    if (code === 'UNAUTHENTICATED' || (code === 'PERMISSION_DENIED' && message.startsWith('this key opens'))) {
      window.dispatchEvent(new CustomEvent<string>(SIGN_IN_NEEDED, { detail: message }));
    }
    throw new ApiError(message, status, code);
  }
  return body;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await call<T>(path)).body;
}

export function postJson<T>(path: string, body: unknown): Promise<Timed<T>> {
  return call<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export function modelPath(name: string): string {
  return `api/models/${encodeURIComponent(name)}`;
}

export function oipPath(name: string, version?: string): string {
  return `v2/models/${encodeURIComponent(name)}${version === undefined ? '' : `/versions/${encodeURIComponent(version)}`}`;
}

export interface SendOptions {
  method: string;
  body: XMLHttpRequestBodyInit;
  headers?: Record<string, string>;
  /** Aborts the call: the promise rejects with an AbortError DOMException. */
  signal?: AbortSignal;
  /** Share of the request body sent so far (0..1), as the browser reports it. */
  onUploadProgress?: (sent: number) => void;
}

/**
 * Like call(), for the model calls a person waits on: XMLHttpRequest rather than fetch, because
 * only it reports upload progress, and it can be cancelled.
 */
export function send<T>(path: string, options: SendOptions): Promise<Timed<T>> {
  // On-device mode answers here too: a model call must not reach the server because it wants progress.
  const local = answeredLocally<T>(path, { method: options.method, body: options.body as BodyInit, ...(options.headers !== undefined && { headers: options.headers }) });
  if (local !== undefined) {
    options.onUploadProgress?.(1);
    if (options.signal === undefined) return local;
    const signal = options.signal;
    const cancelled = new Promise<never>((_, reject) => {
      const abort = () => reject(new DOMException('cancelled', 'AbortError'));
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
    });
    return Promise.race([local, cancelled]);
  }
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    const started = performance.now();
    request.open(options.method, apiUrl(path));
    for (const [name, value] of Object.entries(options.headers ?? {})) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) options.onUploadProgress?.(event.loaded / event.total);
    };
    request.upload.onload = () => options.onUploadProgress?.(1);
    const abort = () => request.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    request.onabort = () => reject(new DOMException('cancelled', 'AbortError'));
    request.onerror = () => reject(new ApiError('cannot reach the server', 0));
    request.onload = () => {
      options.signal?.removeEventListener('abort', abort);
      const latencyMs = performance.now() - started;
      try {
        const body = answerBody(request.status, request.statusText, request.getResponseHeader('content-type'), request.responseText);
        resolve({ body: body as T, status: request.status, latencyMs, serverTiming: parseServerTiming(request.getResponseHeader('server-timing')) });
      } catch (error) {
        reject(error);
      }
    };
    if (options.signal?.aborted) {
      reject(new DOMException('cancelled', 'AbortError'));
      return;
    }
    request.send(options.body);
  });
}
