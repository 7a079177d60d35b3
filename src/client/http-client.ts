import { tensorDataFromBinary, tensorDataToBinary } from '../tensor/binary.js';
import { parseDatatype, tensorFromJson } from '../tensor/from-json.js';
import type { RequestedOutput } from '../tensor/inference.js';
import type { Parameters, Tensor } from '../tensor/tensor.js';
import { dataToJsonText } from '../tensor/to-json.js';
import { SlipwayClientError } from './client-error.js';
import { withRetries, type RetryOptions } from './retry.js';

export interface HttpClientOptions extends RetryOptions {
  /** Per-attempt timeout in ms (default 30 000). */
  timeoutMs?: number;
  /** Send tensors as binary data (Triton's extension) instead of JSON (default true: faster, exact 64-bit integers). */
  binary?: boolean;
  /** Sent as `Authorization: Bearer …` on repository load/unload. */
  adminToken?: string;
  /** Sent as `Authorization: Bearer …` on every other request (a server started with --api-key or a keys file). */
  apiKey?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

export interface InferOptions {
  version?: string;
  id?: string;
  /** Outputs to return (names, or names with parameters); all of the model's when absent. */
  outputs?: ReadonlyArray<string | RequestedOutput>;
  parameters?: Parameters;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
  /** Sent as `x-request-id`, so the server's logs show the caller's request id. */
  requestId?: string;
}

/** An inference answer with typed output tensors. */
export interface InferResult {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
  /** The output called `name`; throws when the answer has none. */
  output(name: string): Tensor;
}

// The wire shapes the server writes, so client and server cannot drift apart (types only: erased at run time).
import type { ModelMetadata } from '../protocol/model-metadata.js';

export type { ModelMetadata, TensorMetadata } from '../protocol/model-metadata.js';
import type { RolloutStatus, TrafficStatus } from '../router/rollout-controller.js';
import type { RolloutConfig, TrafficConfigInput } from '../config/traffic-config.js';

export type { RolloutStatus, TrafficStatus } from '../router/rollout-controller.js';
export type { RolloutConfig, TrafficConfigInput } from '../config/traffic-config.js';

/** `GET /v2/models/{m}/traffic`. */
export interface TrafficReply {
  model: string;
  revision: number;
  traffic: TrafficStatus;
}

export interface RepositoryEntry {
  name: string;
  version?: string;
  state: string;
  reason: string;
}

export function inferResult(fields: Omit<InferResult, 'output'>): InferResult {
  return {
    ...fields,
    output(name: string): Tensor {
      const found = fields.outputs.find((t) => t.name === name);
      if (found === undefined) throw new Error(`the answer has no output '${name}' (it has ${fields.outputs.map((t) => t.name).join(', ')})`);
      return found;
    },
  };
}

const encoder = new TextEncoder();

/**
 * A typed client for the Open Inference Protocol over REST, for Slipway or any OIP server (Triton,
 * KServe). Tensors go as binary data by default, JSON on request; calls the server could not take
 * (503, 429, no connection) are retried with backoff.
 *
 * @example
 * import { SlipwayHttpClient } from 'slipway/client';
 * const client = new SlipwayHttpClient('http://127.0.0.1:8000');
 * const result = await client.infer('digits', [
 *   { name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Float32Array(64) },
 * ]);
 * console.log(result.output('probabilities').data);
 */
export class SlipwayHttpClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly options: HttpClientOptions = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  async live(): Promise<boolean> {
    return (await this.probe('/v2/health/live')) === 200;
  }

  async ready(): Promise<boolean> {
    return (await this.probe('/v2/health/ready')) === 200;
  }

  async modelReady(model: string, version?: string): Promise<boolean> {
    const status = await this.probe(`${modelPath(model, version)}/ready`);
    if (status === 404) throw new SlipwayClientError(`unknown model '${model}'${version ? ` version ${version}` : ''}`, { code: 'MODEL_NOT_FOUND', status });
    return status === 200;
  }

  serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }> {
    return this.json('GET', '/v2');
  }

  modelMetadata(model: string, version?: string): Promise<ModelMetadata> {
    return this.json('GET', modelPath(model, version));
  }

  modelConfig(model: string, version?: string): Promise<Record<string, unknown>> {
    return this.json('GET', `${modelPath(model, version)}/config`);
  }

  repositoryIndex(options: { ready?: boolean } = {}): Promise<RepositoryEntry[]> {
    return this.json('POST', '/v2/repository/index', JSON.stringify(options.ready ? { ready: true } : {}));
  }

  async loadModel(model: string): Promise<void> {
    await this.json('POST', `/v2/repository/models/${encodeURIComponent(model)}/load`, '{}', this.adminHeaders());
  }

  async unloadModel(model: string): Promise<void> {
    await this.json('POST', `/v2/repository/models/${encodeURIComponent(model)}/unload`, '{}', this.adminHeaders());
  }

  /** The model's traffic policy and the share of requests each version gets now. */
  traffic(model: string): Promise<TrafficReply> {
    return this.json('GET', `${modelPath(model)}/traffic`);
  }

  /** Sets the model's traffic weights (and stable version, shadow traffic); needs the admin token. */
  setTraffic(model: string, policy: TrafficConfigInput): Promise<TrafficReply> {
    return this.json('PUT', `${modelPath(model)}/traffic`, JSON.stringify(policy), this.adminHeaders());
  }

  /** Forgets the policy set through the API (config.yaml's applies again); needs the admin token. */
  clearTraffic(model: string): Promise<TrafficReply> {
    return this.json('DELETE', `${modelPath(model)}/traffic`, undefined, this.adminHeaders());
  }

  /** The model's current (or last) rollout, its decisions and traffic. */
  rolloutStatus(model: string): Promise<RolloutStatus> {
    return this.json('GET', `${modelPath(model)}/rollout`);
  }

  /**
   * Starts a canary rollout of `rollout.to` (steps, interval and thresholds default as the server
   * documents); needs the admin token. Answers 409 while another rollout of the model runs.
   */
  startRollout(model: string, rollout: RolloutConfig): Promise<RolloutStatus> {
    return this.json('POST', `${modelPath(model)}/rollout`, JSON.stringify(rollout), this.adminHeaders());
  }

  /** Every request to the stable version now (ends a rollout in progress); needs the admin token. */
  rollback(model: string, reason?: string): Promise<RolloutStatus> {
    return this.json('POST', `${modelPath(model)}/rollout/rollback`, JSON.stringify(reason === undefined ? {} : { reason }), this.adminHeaders());
  }

  /** Gives the rollout's candidate every request now; needs the admin token. */
  promote(model: string, reason?: string): Promise<RolloutStatus> {
    return this.json('POST', `${modelPath(model)}/rollout/promote`, JSON.stringify(reason === undefined ? {} : { reason }), this.adminHeaders());
  }

  /** Runs one inference; outputs come back as typed arrays (strings for BYTES). */
  async infer(model: string, inputs: readonly Tensor[], options: InferOptions = {}): Promise<InferResult> {
    const binary = this.options.binary ?? true;
    const outputs = options.outputs?.map((o) => (typeof o === 'string' ? { name: o } : o));
    const header: Record<string, unknown> = {};
    if (options.id !== undefined) header.id = options.id;
    const parameters: Parameters = { ...options.parameters };
    if (binary) parameters.binary_data_output = true;
    if (Object.keys(parameters).length > 0) header.parameters = parameters;
    if (outputs !== undefined) header.outputs = outputs;
    const tails: Uint8Array[] = [];
    const tensors = inputs.map((t) => {
      const head = `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]`;
      if (!binary) return `${head}${t.parameters ? `,"parameters":${JSON.stringify(t.parameters)}` : ''},"data":${dataToJsonText(t.datatype, t.data)}}`;
      const raw = tensorDataToBinary(t.datatype, t.data);
      tails.push(raw);
      return `${head},"parameters":${JSON.stringify({ ...t.parameters, binary_data_size: raw.byteLength })}}`;
    });
    const json = `${JSON.stringify(header).slice(0, -1)}${Object.keys(header).length > 0 ? ',' : ''}"inputs":[${tensors.join(',')}]}`;
    const headers: Record<string, string> = {};
    if (options.requestId !== undefined) headers['x-request-id'] = options.requestId;
    let body: Uint8Array | string = json;
    if (binary) {
      const head = encoder.encode(json);
      headers['inference-header-content-length'] = String(head.byteLength);
      headers['content-type'] = 'application/octet-stream';
      body = Buffer.concat([head, ...tails]);
    } else {
      headers['content-type'] = 'application/json';
    }
    const response = await this.request('POST', `${modelPath(model, options.version)}/infer`, body, headers, options.timeoutMs);
    return decodeInferResponse(response.body, response.headers.get('inference-header-content-length'));
  }

  /**
   * Calls a model's handler (`POST /api/models/{m}/predict`): a multipart form when a field is a
   * Blob (a picture, a file), JSON otherwise. Resolves with the handler's JSON answer.
   *
   * @example
   * const { label } = await client.predict<{ label: number }>('digits', {
   *   image: new Blob([await readFile('seven.png')], { type: 'image/png' }),
   * });
   */
  async predict<T = unknown>(model: string, fields: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
    const path = `/api/models/${encodeURIComponent(model)}/predict`;
    let body: string | FormData;
    const headers: Record<string, string> = {};
    if (Object.values(fields).some((v) => v instanceof Blob)) {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) {
        if (value instanceof Blob) form.append(name, value, value instanceof File ? value.name : name);
        else form.append(name, typeof value === 'string' ? value : JSON.stringify(value));
      }
      body = form;
    } else {
      body = JSON.stringify(fields);
      headers['content-type'] = 'application/json';
    }
    const response = await this.request('POST', path, body, headers, options.timeoutMs);
    return JSON.parse(Buffer.from(response.body).toString('utf8')) as T;
  }

  private adminHeaders(): Record<string, string> {
    return this.options.adminToken === undefined ? {} : { authorization: `Bearer ${this.options.adminToken}` };
  }

  private async probe(path: string): Promise<number> {
    try {
      return (await this.request('GET', path)).status;
    } catch (error) {
      if (error instanceof SlipwayClientError && error.status !== undefined) return error.status;
      throw error;
    }
  }

  private async json<T>(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<T> {
    const response = await this.request(method, path, body, body === undefined ? headers : { 'content-type': 'application/json', ...headers });
    return JSON.parse(Buffer.from(response.body).toString('utf8')) as T;
  }

  private request(
    method: string,
    path: string,
    body?: string | Uint8Array | FormData,
    headers: Record<string, string> = {},
    timeoutMs?: number,
  ): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
    const timeout = timeoutMs ?? this.options.timeoutMs ?? 30_000;
    const attempt = async () => {
      let response: Response;
      try {
        response = await fetch(`${this.base}${path}`, {
          method,
          // The admin token, when a route sends it, takes the Authorization header over the API key.
          headers: { ...(this.options.apiKey !== undefined && { authorization: `Bearer ${this.options.apiKey}` }), ...this.options.headers, ...headers },
          ...(body !== undefined && { body }),
          signal: AbortSignal.timeout(timeout),
        });
      } catch (error) {
        const timedOut = (error as Error).name === 'TimeoutError';
        throw new SlipwayClientError(timedOut ? `${method} ${path}: no answer within ${timeout} ms` : `${method} ${path}: ${(error as Error).message}`, {
          code: timedOut ? 'DEADLINE_EXCEEDED' : 'UNAVAILABLE',
          cause: error,
        });
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (response.ok) return { status: response.status, headers: response.headers, body: bytes };
      throw errorFromResponse(method, path, response, bytes);
    };
    return withRetries(attempt, (error) => retryVerdict(error), this.options);
  }
}

function retryVerdict(error: unknown): { retry: boolean; retryAfterMs?: number } {
  if (!(error instanceof SlipwayClientError)) return { retry: false };
  if (error.status === undefined) return { retry: error.code === 'UNAVAILABLE' };
  if (error.status === 503 || error.status === 429) {
    const after = (error as SlipwayClientError & { retryAfterMs?: number }).retryAfterMs;
    return after === undefined ? { retry: true } : { retry: true, retryAfterMs: after };
  }
  return { retry: false };
}

function errorFromResponse(method: string, path: string, response: Response, bytes: Uint8Array): SlipwayClientError {
  let message = `${method} ${path}: HTTP ${response.status}`;
  let code = response.status === 503 ? 'UNAVAILABLE' : `HTTP_${response.status}`;
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { error?: unknown; code?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
    if (typeof parsed.code === 'string') code = parsed.code;
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  const error = new SlipwayClientError(message, { code, status: response.status });
  const retryAfter = Number(response.headers.get('retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) Object.assign(error, { retryAfterMs: retryAfter * 1000 });
  return error;
}

function modelPath(model: string, version?: string): string {
  return `/v2/models/${encodeURIComponent(model)}${version !== undefined ? `/versions/${encodeURIComponent(version)}` : ''}`;
}

interface JsonOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Parameters & { binary_data_size?: number };
  data?: unknown;
}

/** An OIP inference answer, JSON or binary (`Inference-Header-Content-Length`), as typed tensors. */
export function decodeInferResponse(body: Uint8Array, headerLength: string | null): InferResult {
  const length = headerLength === null ? body.byteLength : Number(headerLength);
  if (!Number.isSafeInteger(length) || length > body.byteLength) {
    throw new SlipwayClientError(`the answer's Inference-Header-Content-Length (${headerLength}) does not fit its ${body.byteLength} bytes`, { code: 'MALFORMED_RESPONSE' });
  }
  const parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, length).toString('utf8')) as {
    model_name: string;
    model_version: string;
    id?: string;
    parameters?: Parameters;
    outputs: JsonOutput[];
  };
  let offset = length;
  const outputs = parsed.outputs.map((o): Tensor => {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) return tensorFromJson(o, 'output');
    const { binary_data_size: _size, ...rest } = o.parameters!;
    const datatype = parseDatatype(o.datatype, `output '${o.name}'`);
    const data = tensorDataFromBinary(datatype, o.shape, body.subarray(offset, offset + size), `output '${o.name}'`);
    offset += size;
    return Object.keys(rest).length > 0 ? { name: o.name, datatype, shape: o.shape, data, parameters: rest } : { name: o.name, datatype, shape: o.shape, data };
  });
  return inferResult({
    modelName: parsed.model_name,
    modelVersion: parsed.model_version,
    ...(parsed.id !== undefined && { id: parsed.id }),
    ...(parsed.parameters !== undefined && { parameters: parsed.parameters }),
    outputs,
  });
}
