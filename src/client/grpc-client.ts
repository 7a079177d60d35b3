import { Metadata, credentials as grpcCredentials, status as GrpcStatus, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { decodeGrpcInferResponse, encodeGrpcInferRequest } from '../protocol/grpc/grpc-tensors.js';
import { loadServices, type WireInferResponse } from '../protocol/grpc/proto.js';
import type { InferenceRequest } from '../tensor/inference.js';
import type { Tensor } from '../tensor/tensor.js';
import { SlipwayClientError } from './client-error.js';
import { inferResult, type InferOptions, type InferResult, type ModelMetadata, type RepositoryEntry } from './http-client.js';
import { withRetries, type RetryOptions } from './retry.js';

export interface GrpcClientOptions extends RetryOptions {
  /** Per-attempt deadline in ms (default 30 000). */
  timeoutMs?: number;
  /** Send tensors as raw_input_contents (default true: compact and exact) instead of typed contents. */
  raw?: boolean;
  /** Sent as `authorization: Bearer …` metadata on repository load/unload. */
  adminToken?: string;
  /** Sent as `authorization: Bearer …` metadata on every other call (a server started with --api-key or a keys file). */
  apiKey?: string;
  /** TLS or other channel credentials (default: plaintext), e.g. `credentials.createSsl(caPem)` for a server started with --tls-cert. */
  credentials?: ChannelCredentials;
  /** Largest answer accepted, in bytes (default 256 MiB). */
  maxMessageBytes?: number;
}

type Callback<T> = (error: ServiceError | null, response: T) => void;
type UnaryMethod = (request: object, metadata: Metadata, options: { deadline: Date }, callback: Callback<unknown>) => void;

/**
 * A typed client for the Open Inference Protocol over gRPC (`inference.GRPCInferenceService`), for
 * Slipway or Triton. Calls that fail with UNAVAILABLE (server starting, draining, connection lost)
 * are retried with backoff; every call has a deadline.
 *
 * @example
 * import { SlipwayGrpcClient } from 'slipway/client';
 * const client = new SlipwayGrpcClient('127.0.0.1:8001');
 * const result = await client.infer('digits', [
 *   { name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Float32Array(64) },
 * ]);
 * client.close();
 */
export class SlipwayGrpcClient {
  private readonly client: Client;
  private readonly health: Client;

  constructor(
    address: string,
    private readonly options: GrpcClientOptions = {},
  ) {
    const { inference, health } = loadServices();
    const channelOptions = {
      'grpc.max_receive_message_length': options.maxMessageBytes ?? 256 * 1024 * 1024,
      'grpc.max_send_message_length': -1,
      // HTTP/2's default 64 KiB window makes a megabyte answer wait on a dozen window updates.
      'grpc-node.flow_control_window': 8 * 1024 * 1024,
    };
    const creds = options.credentials ?? grpcCredentials.createInsecure();
    this.client = new inference(address, creds, channelOptions);
    this.health = new health(address, creds, channelOptions);
  }

  async live(): Promise<boolean> {
    return (await this.call<{ live?: boolean }>('ServerLive', {})).live === true;
  }

  async ready(): Promise<boolean> {
    return (await this.call<{ ready?: boolean }>('ServerReady', {})).ready === true;
  }

  async modelReady(model: string, version?: string): Promise<boolean> {
    return (await this.call<{ ready?: boolean }>('ModelReady', { name: model, version: version ?? '' })).ready === true;
  }

  async serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }> {
    const m = await this.call<{ name?: string; version?: string; extensions?: string[] }>('ServerMetadata', {});
    return { name: m.name ?? '', version: m.version ?? '', extensions: m.extensions ?? [] };
  }

  async modelMetadata(model: string, version?: string): Promise<ModelMetadata> {
    type Wire = { name?: string; versions?: string[]; platform?: string; inputs?: Array<{ name?: string; datatype?: string; shape?: string[] }>; outputs?: Wire['inputs'] };
    const m = await this.call<Wire>('ModelMetadata', { name: model, version: version ?? '' });
    const tensors = (list: Wire['inputs']) => (list ?? []).map((t) => ({ name: t.name ?? '', datatype: t.datatype ?? '', shape: (t.shape ?? []).map(Number) }));
    return { name: m.name ?? '', versions: m.versions ?? [], platform: m.platform ?? '', inputs: tensors(m.inputs), outputs: tensors(m.outputs) };
  }

  async repositoryIndex(options: { ready?: boolean } = {}): Promise<RepositoryEntry[]> {
    const index = await this.call<{ models?: Array<{ name?: string; version?: string; state?: string; reason?: string }> }>('RepositoryIndex', { ready: options.ready === true });
    return (index.models ?? []).map((m) => ({ name: m.name ?? '', ...(m.version ? { version: m.version } : {}), state: m.state ?? '', reason: m.reason ?? '' }));
  }

  async loadModel(model: string): Promise<void> {
    await this.call('RepositoryModelLoad', { model_name: model }, this.adminMetadata());
  }

  async unloadModel(model: string): Promise<void> {
    await this.call('RepositoryModelUnload', { model_name: model }, this.adminMetadata());
  }

  /** grpc.health.v1 status of the server ('') or of a model. */
  async healthCheck(service = ''): Promise<string> {
    return (await this.call<{ status?: string }>('Check', { service }, new Metadata(), this.health)).status ?? 'UNKNOWN';
  }

  async infer(model: string, inputs: readonly Tensor[], options: InferOptions = {}): Promise<InferResult> {
    const request: InferenceRequest = { model, inputs: [...inputs] };
    if (options.version !== undefined) request.version = options.version;
    if (options.id !== undefined) request.id = options.id;
    if (options.parameters !== undefined) request.parameters = options.parameters;
    if (options.outputs !== undefined) request.outputs = options.outputs.map((o) => (typeof o === 'string' ? { name: o } : o));
    const wire = encodeGrpcInferRequest(request, this.options.raw ?? true);
    const response = decodeGrpcInferResponse(await this.call<WireInferResponse>('ModelInfer', wire, new Metadata(), this.client, options.timeoutMs));
    return inferResult({
      modelName: response.model_name,
      modelVersion: response.model_version,
      ...(response.id !== undefined && { id: response.id }),
      ...(response.parameters !== undefined && { parameters: response.parameters }),
      outputs: response.outputs,
    });
  }

  close(): void {
    this.client.close();
    this.health.close();
  }

  private adminMetadata(): Metadata {
    const metadata = new Metadata();
    if (this.options.adminToken !== undefined) metadata.set('authorization', `Bearer ${this.options.adminToken}`);
    return metadata;
  }

  private call<T>(method: string, request: object, metadata = new Metadata(), client: Client = this.client, timeoutMs?: number): Promise<T> {
    const fn = (client as unknown as Record<string, UnaryMethod>)[method]!.bind(client);
    if (this.options.apiKey !== undefined && metadata.get('authorization').length === 0) metadata.set('authorization', `Bearer ${this.options.apiKey}`);
    const timeout = timeoutMs ?? this.options.timeoutMs ?? 30_000;
    const attempt = () =>
      new Promise<T>((resolve, reject) => {
        fn(request, metadata, { deadline: new Date(Date.now() + timeout) }, (error, response) => {
          if (error === null) resolve(response as T);
          else reject(clientError(method, error));
        });
      });
    return withRetries(attempt, (error) => ({ retry: error instanceof SlipwayClientError && error.grpcCode === GrpcStatus.UNAVAILABLE }), this.options);
  }
}

function clientError(method: string, error: ServiceError): SlipwayClientError {
  const serverCode = error.metadata?.get('slipway-code')[0];
  const code = typeof serverCode === 'string' ? serverCode : (GrpcStatus[error.code] ?? `GRPC_${error.code}`);
  return new SlipwayClientError(error.details || `${method}: ${error.message}`, { code, grpcCode: error.code, cause: error });
}
