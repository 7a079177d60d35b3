import {
  Metadata,
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { capMessage } from '../../errors/quote-value.js';
import { ServingError, toServingError } from '../../errors/serving-error.js';
import { grpcStatusOf } from '../../errors/to-grpc.js';
import type { Slipway } from '../../slipway.js';
import { SLIPWAY_VERSION } from '../../version.js';
import { AdminGuard } from '../admin-token.js';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { AccessKeys } from '../access/access-keys.js';
import { AddressConnectionLimit } from '../access/address-connection-limit.js';
import { presentedKey } from '../access/presented-key.js';
import type { RateLimiter } from '../access/rate-limiter.js';
import { routingFields } from '../routing-headers.js';
import { EXTENSIONS } from '../http/oip-routes.js';
import { DEFAULT_RETRY_AFTER_SECONDS, internalErrorLogLimiter } from '../http/error-reply.js';
import { budgetRefusal, peakBytesOf } from '../http/request-bytes-admission.js';
import type { InflightBudget } from '../../scheduler/inflight-budget.js';
import { modelMetadata, modelReadiness } from '../model-metadata.js';
import { decodeGrpcInferRequest, encodeGrpcInferResponse, usesRawContents } from './grpc-tensors.js';
import { loadServices, type WireInferRequest, type WireParameter } from './proto.js';

export interface GrpcServerOptions {
  /** Enables RepositoryModelLoad/Unload for callers sending `authorization: Bearer <token>`. */
  adminToken?: string;
  /** Largest request message in bytes (RESOURCE_EXHAUSTED beyond). Default 128 MiB, as the HTTP body limit. */
  maxMessageBytes?: number;
  /** A connection with no call for this long gets GOAWAY (grpc-js default: never). */
  maxConnectionIdleMs?: number;
  /** A connection older than this gets GOAWAY; its running calls have as long again to finish. */
  maxConnectionAgeMs?: number;
  /** API keys per route group, shared with the HTTP server (wins over adminToken). Inference rpcs need a key when the inference group does. */
  access?: AccessKeys;
  /** Per-key (or per-peer-address) token buckets, shared with the HTTP server. */
  rateLimiter?: RateLimiter;
  /** Serve TLS with this PEM certificate (chain) and private key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Open connections one client address may hold; the ones beyond are closed at accept. grpc-js
   * exposes no accept hook on its own listener, so with a limit the port is a `net.Server` of ours
   * that hands the connections it admits to grpc-js (its connection injector).
   */
  maxConnectionsPerIp?: number;
  /**
   * The in-flight memory budget, shared with the HTTP server: an infer call is charged for its
   * message (as a binary body) from admission until it is answered or cancelled, and refused with
   * RESOURCE_EXHAUSTED + retry-after when it does not fit. None when absent.
   */
  inflightBudget?: InflightBudget;
}

/** Rpcs that are always open and never rate limited: liveness, readiness and the health service. */
const PROBE_RPCS = new Set(['ServerLive', 'ServerReady', 'Health.Check']);
/** Rpcs that change what is served: the admin token. */
const ADMIN_RPCS = new Set(['RepositoryModelLoad', 'RepositoryModelUnload']);

const DEFAULT_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;
/** Statuses at or above HTTP's 5xx that a client can cause; logged rate-limited, not per call. */
const SERVER_SIDE_STATUSES = new Set<number>([GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.UNIMPLEMENTED]);
/** Marks a request whose bytes were not a valid message of the rpc's type (see `guardDecoding`). */
const UNDECODABLE = Symbol('undecodable');
/** The size in bytes of the message a request was decoded from (see `guardDecoding`). */
const MESSAGE_BYTES = Symbol('messageBytes');
/** Rpcs charged against the in-flight budget: the ones whose requests and answers hold tensors. */
const BUDGETED_RPCS = new Set(['ModelInfer']);
const INFERENCE_SERVICE = 'inference.GRPCInferenceService';

interface NamedRequest {
  name?: string;
  version?: string;
}

interface RepositoryRequest {
  model_name?: string;
  parameters?: Record<string, WireParameter>;
}

/**
 * The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, with Triton's repository
 * rpcs) and the standard `grpc.health.v1.Health` service, for a loaded Slipway. Every rpc decodes
 * into the same internal request as REST and calls the same router.
 *
 * @example
 * const grpc = new GrpcServer(slipway, { adminToken: process.env.SLIPWAY_ADMIN_TOKEN });
 * const port = await grpc.listen('127.0.0.1', 8001);
 * // … later
 * await grpc.close();
 */
export class GrpcServer {
  private readonly server: Server;
  private readonly guard: AdminGuard;
  private readonly access: AccessKeys;
  private readonly rateLimiter: RateLimiter | undefined;
  private readonly budget: InflightBudget | undefined;
  private readonly credentials: ServerCredentials;
  private readonly watchers = new Set<() => void>();
  private readonly perIp: AddressConnectionLimit | undefined;
  private readonly listeners: TcpServer[] = [];

  constructor(
    private readonly slipway: Slipway,
    options: GrpcServerOptions = {},
  ) {
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.server = new Server({
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': -1,
      // Idle or endless connections hold a descriptor each: the HTTP side's keep-alive and request
      // timeouts, in gRPC's terms.
      ...(options.maxConnectionIdleMs !== undefined && { 'grpc.max_connection_idle_ms': options.maxConnectionIdleMs }),
      ...(options.maxConnectionAgeMs !== undefined && {
        'grpc.max_connection_age_ms': options.maxConnectionAgeMs,
        'grpc.max_connection_age_grace_ms': options.maxConnectionAgeMs,
      }),
    });
    this.access = options.access ?? new AccessKeys({ keys: { admin: options.adminToken === undefined ? [] : [options.adminToken] } });
    this.guard = new AdminGuard(this.access);
    this.rateLimiter = options.rateLimiter;
    this.budget = options.inflightBudget !== undefined && options.inflightBudget.limitBytes > 0 ? options.inflightBudget : undefined;
    this.credentials =
      options.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }], false);
    if (options.maxConnectionsPerIp !== undefined) {
      const metrics = slipway.metrics;
      this.perIp = new AddressConnectionLimit({
        maxPerAddress: options.maxConnectionsPerIp,
        protocol: 'grpc',
        logger: slipway.logger,
        ...(metrics !== undefined && { onRefused: (protocol) => metrics.connectionRefused(protocol, 'per_ip') }),
      });
    }
    const { inference, health } = loadServices();
    this.server.addService(guardDecoding(inference.service), this.inferenceImplementation());
    this.server.addService(guardDecoding(health.service), this.healthImplementation());
  }

  /** Binds and starts serving; resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    if (this.perIp !== undefined) return this.listenLimited(this.perIp, host, port);
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, this.credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
    });
  }

  /**
   * Stops accepting calls and lets running ones finish; after `graceMs` the rest are cancelled.
   */
  async close(graceMs = 10_000): Promise<void> {
    for (const stop of this.watchers) stop();
    // No new connections; the sessions already handed to grpc-js are closed by its shutdown below.
    for (const listener of this.listeners) listener.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Our own listener in front of grpc-js: every accepted connection passes the per-address limit first. */
  private async listenLimited(limit: AddressConnectionLimit, host: string, port: number): Promise<number> {
    const injector = this.server.createConnectionInjector(this.credentials);
    const listener = createTcpServer((socket) => {
      if (limit.admit(socket)) injector.injectConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.listeners.push(listener);
    const address = listener.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  private unary<Req, Res>(rpc: string, handler: (request: Req, metadata: Metadata) => Promise<Res> | Res) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      const started = performance.now();
      const log = this.slipway.logger;
      // Request lines are bounded like HTTP's: a flood of calls must not become a flood of lines.
      // Who asked goes on the line as the key's id (never the key).
      let key: { key: string } | undefined;
      const line = (fields: Record<string, unknown>): void => {
        if (!log.isLevelEnabled('info')) return;
        const { log: write, suppressed } = this.slipway.requestLogLimiter.admit('grpc');
        if (write) log.info({ ...fields, ...key, ...(suppressed > 0 && { suppressed }) }, 'grpc');
      };
      // Bytes this call holds of the in-flight budget; given back once, when answered or cancelled.
      let charged = 0;
      const release = (): void => {
        if (charged === 0) return;
        this.budget!.release(charged);
        charged = 0;
      };
      call.once('cancelled', release);
      Promise.resolve()
        .then(() => {
          const id = this.admit(rpc, call);
          if (id !== undefined) key = { key: id };
          // After access: a call without a valid key is refused before it is charged.
          charged = this.charge(rpc, call.request);
          return handler(undecodable(call.request, rpc), call.metadata);
        })
        .then(
          (response) => {
            release();
            line({ rpc, status: 'OK', latencyMs: Math.round((performance.now() - started) * 100) / 100 });
            callback(null, response);
          },
          (error: unknown) => {
            release();
            const serving = toServingError(error);
            const code = grpcStatusOf(serving.category);
            const latencyMs = Math.round((performance.now() - started) * 100) / 100;
            const details = capMessage(serving.message);
            if (code === GrpcStatus.INTERNAL) {
              const { log: write, suppressed } = internalErrorLogLimiter.admit(serving.code);
              if (write) log.error({ rpc, err: error, code: serving.code, ...(suppressed > 0 && { suppressed }) }, details);
            }
            else if (SERVER_SIDE_STATUSES.has(code) && log.isLevelEnabled('warn')) {
              // Client-caused (an unload, a deadline, a crash it provoked): one line per code per interval.
              const { log: write, suppressed } = this.slipway.errorLogLimiter.admit(serving.code);
              if (write) log.warn({ rpc, code: serving.code, suppressed }, details);
            }
            line({ rpc, status: GrpcStatus[code], code: serving.code, latencyMs });
            const metadata = new Metadata();
            metadata.set('slipway-code', serving.code);
            if (code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.RESOURCE_EXHAUSTED) {
              // HTTP's Retry-After, and the pushback gRPC's own retry policy reads.
              const seconds = serving.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
              metadata.set('retry-after', String(seconds));
              metadata.set('grpc-retry-pushback-ms', String(seconds * 1000));
            }
            callback({ code, details, metadata });
          },
        );
    };
  }

  /**
   * Takes an infer call's expected peak memory (its message counted as a binary body) from the
   * in-flight budget; throws MEMORY_BUDGET_EXCEEDED when it does not fit. grpc-js has read the message
   * by now: what the budget saves is what the call would go on to hold (tensors, outputs, the answer).
   */
  private charge(rpc: string, request: unknown): number {
    if (this.budget === undefined || !BUDGETED_RPCS.has(rpc)) return 0;
    const bytes = peakBytesOf((request as { [MESSAGE_BYTES]?: number } | null)?.[MESSAGE_BYTES] ?? 0, true);
    if (bytes === 0) return 0;
    if (!this.budget.tryAcquire(bytes)) throw budgetRefusal(this.budget, bytes);
    return bytes;
  }

  /** Rate limit and API key of one call, as the HTTP hook does for a request; throws to refuse, else returns the key's id. */
  private admit(rpc: string, call: ServerUnaryCall<unknown, unknown>): string | undefined {
    if (PROBE_RPCS.has(rpc)) return undefined;
    const key = presentedKey((name) => metadataValue(call.metadata, name));
    const identity = this.access.identify(key);
    if (this.rateLimiter !== undefined) {
      const decision = this.rateLimiter.take(identity?.id ?? `ip:${peerAddress(call.getPeer())}`);
      if (!decision.allowed) {
        const { ratePerSecond, burst } = this.rateLimiter.limit;
        throw new ServingError('RATE_LIMITED', `rate limit exceeded: ${Number(ratePerSecond.toFixed(3))} requests/s (burst ${burst}) per ${identity === undefined ? 'client address' : 'key'}; retry in ${decision.retryAfterSeconds} s`, {
          retryAfterSeconds: decision.retryAfterSeconds,
        });
      }
    }
    // Admin rpcs check the admin token themselves.
    if (!ADMIN_RPCS.has(rpc)) this.access.check('inference', key);
    return identity?.id;
  }

  private inferenceImplementation(): UntypedServiceImplementation {
    const slipway = this.slipway;
    return {
      ServerLive: this.unary('ServerLive', () => ({ live: true })),
      ServerReady: this.unary('ServerReady', () => ({ ready: slipway.notReadyReason() === undefined })),
      ModelReady: this.unary('ModelReady', (request: NamedRequest) => ({
        ready: modelReadiness(slipway, requireName(request.name, 'name'), request.version || undefined).ready,
      })),
      ServerMetadata: this.unary('ServerMetadata', () => ({ name: 'slipway', version: SLIPWAY_VERSION, extensions: EXTENSIONS })),
      ModelMetadata: this.unary('ModelMetadata', (request: NamedRequest) =>
        modelMetadata(slipway, requireName(request.name, 'name'), request.version || undefined),
      ),
      ModelInfer: this.unary('ModelInfer', async (request: WireInferRequest, metadata: Metadata) => {
        const decoded = decodeGrpcInferRequest(request);
        // model_version pins the request, else x-slipway-version metadata; x-slipway-key is the sticky key.
        const requestId = metadataValue(metadata, 'x-request-id');
        const response = await slipway.router.infer({
          ...decoded,
          ...routingFields((name) => metadataValue(metadata, name), decoded.version),
          ...(requestId !== undefined && { requestId }),
        });
        return encodeGrpcInferResponse(response, usesRawContents(request));
      }),
      RepositoryIndex: this.unary('RepositoryIndex', (request: { ready?: boolean }) => {
        const rows = slipway.index();
        return { models: request.ready === true ? rows.filter((r) => r.state === 'READY') : rows };
      }),
      RepositoryModelLoad: this.unary('RepositoryModelLoad', async (request: RepositoryRequest, metadata: Metadata) => {
        this.guard.check((name) => metadataValue(metadata, name));
        const name = requireName(request.model_name, 'model_name');
        const overrides = Object.keys(request.parameters ?? {});
        if (overrides.length > 0) {
          throw new ServingError(
            'NOT_IMPLEMENTED',
            `load parameters (${overrides.join(', ')}) are not supported: Slipway loads '${name}' from its repository folder; copy the files there, then load`,
          );
        }
        await slipway.loadModel(name);
        return {};
      }),
      RepositoryModelUnload: this.unary('RepositoryModelUnload', async (request: RepositoryRequest, metadata: Metadata) => {
        this.guard.check((name) => metadataValue(metadata, name));
        await slipway.unloadModel(requireName(request.model_name, 'model_name'));
        return {};
      }),
    };
  }

  private healthImplementation(): UntypedServiceImplementation {
    const statusOf = (service: string): 'SERVING' | 'NOT_SERVING' | undefined => {
      if (service === '' || service === INFERENCE_SERVICE) return this.slipway.notReadyReason() === undefined ? 'SERVING' : 'NOT_SERVING';
      if (this.slipway.repository.get(service) === undefined) return undefined;
      try {
        return modelReadiness(this.slipway, service).ready ? 'SERVING' : 'NOT_SERVING';
      } catch {
        return 'NOT_SERVING';
      }
    };
    return {
      Check: this.unary('Health.Check', (request: { service?: string }) => {
        const service = request.service ?? '';
        const status = statusOf(service);
        // The health spec answers NOT_FOUND for a service the server does not know.
        if (status === undefined) throw new ServingError('MODEL_NOT_FOUND', `unknown service '${service}': ask for '', '${INFERENCE_SERVICE}' or a model name`);
        return { status };
      }),
      // Streams the status now and on every change, until the client cancels (the spec's Watch).
      Watch: (call: ServerWritableStream<{ service?: string }, { status: string }>) => {
        if ((call.request as { [UNDECODABLE]?: string })[UNDECODABLE] !== undefined) {
          call.emit('error', { code: GrpcStatus.INVALID_ARGUMENT, details: 'Health.Watch: the request is not a valid grpc.health.v1.HealthCheckRequest' });
          return;
        }
        const service = call.request.service ?? '';
        let last: string | undefined;
        const send = (): void => {
          const status = statusOf(service) ?? 'SERVICE_UNKNOWN';
          if (status !== last) {
            last = status;
            call.write({ status });
          }
        };
        send();
        const timer = setInterval(send, 1000);
        timer.unref();
        const stop = (): void => {
          clearInterval(timer);
          this.watchers.delete(stop);
          call.end();
        };
        this.watchers.add(stop);
        call.on('cancelled', stop);
      },
    };
  }
}

/**
 * The service with each rpc's request deserializer made total: grpc-js answers INTERNAL when one
 * throws, but bytes that are not a valid protobuf message are the client's mistake. The failure is
 * carried to the handler (`undecodable`), which refuses it with INVALID_ARGUMENT.
 */
function guardDecoding(service: ServiceDefinition): ServiceDefinition {
  const guarded: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(service)) {
    const decode = method.requestDeserialize;
    guarded[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          const decoded: unknown = decode(bytes);
          if (typeof decoded === 'object' && decoded !== null) Object.defineProperty(decoded, MESSAGE_BYTES, { value: bytes.length });
          return decoded;
        } catch (error) {
          return { [UNDECODABLE]: (error as Error).message };
        }
      },
    };
  }
  return guarded as ServiceDefinition;
}

/** The request as decoded, or INVALID_ARGUMENT naming the rpc when its bytes were not a valid message. */
function undecodable<Req>(request: Req, rpc: string): Req {
  const reason = (request as { [UNDECODABLE]?: string } | null)?.[UNDECODABLE];
  if (reason !== undefined) {
    throw new ServingError('MALFORMED_REQUEST', `${rpc}: the request is not a valid protobuf message for this rpc (${capMessage(reason, 200)})`);
  }
  return request;
}

function requireName(value: string | undefined, field: string): string {
  if (value === undefined || value === '') {
    throw new ServingError('MALFORMED_REQUEST', `'${field}' is required`);
  }
  return value;
}

function metadataValue(metadata: Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return typeof value === 'string' ? value : value?.toString('utf8');
}

/** The address part of a grpc-js peer (`ipv4:127.0.0.1:5000`, `[::1]:5000`, `127.0.0.1:5000`). */
function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracket = /^\[([^\]]+)\]/.exec(bare);
  if (bracket !== null) return bracket[1]!;
  const colon = bare.lastIndexOf(':');
  return colon < 0 ? bare : bare.slice(0, colon);
}
