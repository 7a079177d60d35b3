// The bundle's typed API: `await slipway.load()`, `await slipway.predict(input)`. It runs the model
// on this device (onnxruntime-web in a worker) and falls back to the Slipway server, per device
// (no usable backend, the model does not load) and per request (an inference fails, or the device
// is over its latency budget), always saying why.
import { EDGE_MANIFEST_FILE, type EdgeManifest } from '../edge-manifest.js';
import { LatencyBudget } from '../latency-budget.js';
import { EdgeError, ServerClient, type ApiKeySource } from './server-client.js';
import type { Backend, FromDevice, InferAnswer, InferBody, PredictInput, ToDevice } from './worker-messages.js';

export { EdgeError };
export type { ApiKeySource, Backend, EdgeManifest, InferAnswer, InferBody, PredictInput };

export interface LoadOptions {
  /**
   * The Slipway server to fall back to: its base URL, absolute or relative to the page. Default:
   * the one the bundle was built for (`slipway edge --server`, or the server that serves it).
   * `null`: never ask a server.
   */
  server?: string | null;
  /**
   * The key the server's inference routes need (`slipway serve --api-key`), sent as
   * `Authorization: Bearer <key>` on fallback calls only (the device never needs one); or a
   * function returning one, called before each call: hand the page a short-lived, per-user token
   * from your backend. A key written into a public page (or a bundle) is readable by anyone who
   * opens it, so no bundle carries one: `slipway edge` never writes a key into what it builds.
   * A server on another origin must list the page's origin (`--cors-origin`).
   */
  apiKey?: ApiKeySource;
  /** `auto` (default): WebGPU when the browser offers an adapter, wasm otherwise. */
  backend?: 'auto' | Backend;
  /** wasm threads when the page is cross-origin isolated (default: the cores, at most 4); always 1 otherwise. */
  threads?: number;
  /** Answer from the server once the median on-device latency of the last `latencyWindow` calls exceeds this (default: the bundle's). */
  latencyBudgetMs?: number | null;
  latencyWindow?: number;
}

/** Where answers come from now, and why. */
export interface EdgeStatus {
  model: string;
  /** `device`: this device answers; `server`: the server does (see `reason`). */
  mode: 'device' | 'server';
  /** On the device: the execution provider and wasm threads. */
  backend?: Backend;
  threads?: number;
  /** Why the server answers (mode `server`), or why `predict` does while `infer` runs here. */
  reason?: string;
  /** True when the page is cross-origin isolated, which wasm threads need. */
  crossOriginIsolated: boolean;
  /** How long loading took (runtime, models, handler setup). */
  loadMs: number;
}

/** An answer and where it came from. `output` has the same shape from the device and from the server. */
export interface Answer<T> {
  output: T;
  ranOn: 'device' | 'server';
  /** Round trip as the page saw it. */
  latencyMs: number;
  /** Why this answer came from the server. */
  fallbackReason?: string;
}

/** Sent (as a `fallback` event's `detail`) whenever the server answers instead of the device. */
export interface FallbackDetail {
  reason: string;
  /** `device`: from now on; `request`: this request only. */
  scope: 'device' | 'request';
}

interface Pending {
  resolve: (output: unknown) => void;
  reject: (error: { code: string; message: string; deviceFault: boolean }) => void;
}

/** The cores, at most 4 (onnxruntime gains little beyond on these models); the model runs in a worker, so the page keeps its own thread. */
function defaultThreads(): number {
  return Math.min(4, Math.max(1, navigator.hardwareConcurrency || 1));
}

/**
 * One bundled model. A bundle's `slipway.js` exports one for its own model as the default export.
 *
 * @example
 * import slipway from './slipway.js';
 * const status = await slipway.load();           // { mode: 'device', backend: 'wasm', threads: 4, ... }
 * // or, when the server's inference needs a key: a per-user token from your backend, per call
 * // await slipway.load({ apiKey: async () => (await fetch('/my-token')).text() });
 * slipway.addEventListener('fallback', (e) => console.warn((e as CustomEvent).detail.reason));
 * const { output, ranOn } = await slipway.predict({ image: fileInput.files[0] });
 */
export class EdgeModel extends EventTarget {
  private loading: Promise<EdgeStatus> | undefined;
  private current: EdgeStatus | undefined;
  private manifestRead: Promise<EdgeManifest> | undefined;
  private manifest: EdgeManifest | undefined;
  private worker: Worker | undefined;
  private server: ServerClient | undefined;
  private budget = new LatencyBudget(undefined, 1);
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    /** Where the bundle is (the folder holding slipway-edge.json). */
    readonly bundle: URL,
  ) {
    super();
  }

  /** Loads the model on this device, or settles for the server; resolves with where answers will come from. Loads once. */
  load(options: LoadOptions = {}): Promise<EdgeStatus> {
    this.loading ??= this.start(options);
    return this.loading;
  }

  private async now(): Promise<EdgeStatus> {
    await this.load();
    return this.current!;
  }

  /** Where answers come from now (undefined before `load`). */
  status(): EdgeStatus | undefined {
    return this.current;
  }

  /** What the bundle holds (its slipway-edge.json), without starting anything. */
  info(): Promise<EdgeManifest> {
    this.manifestRead ??= fetch(new URL(EDGE_MANIFEST_FILE, this.bundle)).then(async (response) => {
      if (!response.ok) throw new EdgeError(`${EDGE_MANIFEST_FILE} could not be read from ${this.bundle.href}: ${response.status} ${response.statusText}`, 'NOT_FOUND', 'device');
      return (await response.json()) as EdgeManifest;
    });
    this.manifestRead.catch(() => (this.manifestRead = undefined));
    return this.manifestRead;
  }

  private async start(options: LoadOptions): Promise<EdgeStatus> {
    const started = performance.now();
    let manifest: EdgeManifest;
    try {
      manifest = await this.info();
    } catch (error) {
      this.loading = undefined;
      throw error;
    }
    this.manifest = manifest;
    const server = options.server === undefined ? manifest.fallback.server : options.server;
    if (server !== null) this.server = new ServerClient(new URL(server, this.bundle), manifest.model, options.apiKey);
    const budgetMs = options.latencyBudgetMs === undefined ? manifest.fallback.latencyBudgetMs : options.latencyBudgetMs;
    this.budget = new LatencyBudget(budgetMs ?? undefined, options.latencyWindow ?? manifest.fallback.latencyWindow);
    const base = { model: manifest.model, crossOriginIsolated: globalThis.crossOriginIsolated === true };
    const loaded = await this.startWorker(manifest, options);
    const loadMs = performance.now() - started;
    if ('reason' in loaded) {
      this.current = { ...base, mode: 'server', reason: loaded.reason, loadMs };
      this.dispatchEvent(new CustomEvent<FallbackDetail>('fallback', { detail: { reason: loaded.reason, scope: 'device' } }));
    } else {
      const handler = manifest.handler;
      this.current = {
        ...base,
        mode: 'device',
        backend: loaded.backend,
        threads: loaded.threads,
        loadMs,
        ...(handler?.runs === 'server' && { reason: `predict() runs on the server: ${handler.reason}` }),
      };
    }
    return this.current;
  }

  private startWorker(manifest: EdgeManifest, options: LoadOptions): Promise<{ backend: Backend; threads: number } | { reason: string }> {
    let worker: Worker;
    try {
      worker = new Worker(new URL('device-worker.js', this.bundle), { type: 'module', name: `slipway ${manifest.model}` });
    } catch (error) {
      return Promise.resolve({ reason: `the on-device runtime could not start: ${(error as Error).message}` });
    }
    this.worker = worker;
    return new Promise((resolve) => {
      worker.onmessage = (event: MessageEvent<FromDevice>) => {
        const message = event.data;
        switch (message.type) {
          case 'loaded':
            resolve({ backend: message.backend, threads: message.threads });
            return;
          case 'load-failed':
            this.stopWorker(message.reason);
            resolve({ reason: message.reason });
            return;
          case 'result':
            this.settle(message.id)?.resolve(message.output);
            return;
          case 'error':
            this.settle(message.id)?.reject(message);
            return;
        }
      };
      // A worker that dies (out of memory, a crash in the runtime) takes the device out for good.
      worker.onerror = (event) => {
        event.preventDefault();
        const reason = `the on-device runtime stopped: ${event.message || 'unknown error'}`;
        resolve({ reason });
        this.useServer(reason);
      };
      const message: ToDevice = {
        type: 'load',
        baseUrl: this.bundle.href,
        manifest,
        backend: options.backend ?? 'auto',
        threads: options.threads ?? defaultThreads(),
      };
      worker.postMessage(message);
    });
  }

  /** Ends the worker; the calls it was running go to the server (they are told the device failed). */
  private stopWorker(reason: string): void {
    this.worker?.terminate();
    this.worker = undefined;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject({ code: 'INTERNAL', message: reason, deviceFault: true });
    }
  }

  private settle(id: number): Pending | undefined {
    const pending = this.pending.get(id);
    this.pending.delete(id);
    return pending;
  }

  private callDevice(message: { type: 'predict'; input: PredictInput } | { type: 'infer'; body: InferBody }): Promise<unknown> {
    const worker = this.worker;
    if (worker === undefined) return Promise.reject({ code: 'INTERNAL', message: 'the on-device runtime is not running', deviceFault: true });
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id } satisfies ToDevice);
    });
  }

  private withTimeout(call: Promise<unknown>, timeoutMs: number | undefined): Promise<unknown> {
    if (timeoutMs === undefined) return call;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const reason = `an on-device prediction took longer than the handler's timeout (${timeoutMs} ms)`;
        // The worker cannot be interrupted inside onnxruntime: it is ended, and the device with it.
        this.useServer(reason);
        reject({ code: 'DEADLINE_EXCEEDED', message: reason, deviceFault: true });
      }, timeoutMs);
    });
    return Promise.race([call, late]).finally(() => clearTimeout(timer));
  }

  /** Switches this device to the server for good. */
  private useServer(reason: string): void {
    this.stopWorker(reason);
    if (this.current === undefined || this.current.mode === 'server') return;
    const { backend: _backend, threads: _threads, ...rest } = this.current;
    this.current = { ...rest, mode: 'server', reason };
    this.dispatchEvent(new CustomEvent<FallbackDetail>('fallback', { detail: { reason, scope: 'device' } }));
  }

  private async answer<T>(
    onDevice: boolean,
    serverReason: string | undefined,
    device: () => Promise<unknown>,
    server: (client: ServerClient) => Promise<unknown>,
  ): Promise<Answer<T>> {
    const started = performance.now();
    let fallbackReason = serverReason;
    if (onDevice) {
      try {
        const output = (await device()) as T;
        const latencyMs = performance.now() - started;
        this.budget.record(latencyMs);
        const over = this.budget.exceeded();
        if (over !== undefined) this.useServer(over);
        return { output, ranOn: 'device', latencyMs };
      } catch (error) {
        const failure = error as { code: string; message: string; deviceFault: boolean };
        if (!failure.deviceFault) throw new EdgeError(failure.message, failure.code, 'device');
        fallbackReason = `this request failed on the device: ${failure.message}`;
        this.dispatchEvent(new CustomEvent<FallbackDetail>('fallback', { detail: { reason: fallbackReason, scope: 'request' } }));
      }
    }
    const reason = fallbackReason ?? 'this device cannot run the model';
    if (this.server === undefined) {
      throw new EdgeError(`${reason}; and there is no server to fall back to (build the bundle with --server URL, or pass load({ server }))`, 'UNAVAILABLE', 'device');
    }
    const output = (await server(this.server)) as T;
    return { output, ranOn: 'server', latencyMs: performance.now() - started, fallbackReason: reason };
  }

  /**
   * Runs the model's handler (`POST /api/models/{m}/predict` on the server): `input` is the object
   * its input schema takes; Files, Blobs and bytes stand for uploads (an `image()` field takes a
   * picture as a File or Blob).
   */
  async predict<T = unknown>(input: Record<string, unknown>): Promise<Answer<T>> {
    return this.predictInput<T>({ kind: 'values', values: input });
  }

  /** predict() with a multipart form's parts (what the prototype UI sends). */
  async predictInput<T = unknown>(input: PredictInput): Promise<Answer<T>> {
    // Where answers come from now: the device may have been switched out since load() resolved.
    const status = await this.now();
    const handler = this.manifest!.handler;
    if (handler === undefined) throw new EdgeError(`model '${status.model}' has no handler; use infer()`, 'HANDLER_NOT_FOUND', 'device', 404);
    const here = status.mode === 'device' && handler.runs === 'device';
    const serverReason = status.mode === 'server' ? status.reason : handler.runs === 'server' ? handler.reason : undefined;
    // The server gives up on a handler after its timeout; a device that takes longer is too slow.
    const timeoutMs = this.manifest!.description.handler?.limits.timeout_ms;
    return this.answer<T>(
      here,
      serverReason,
      () => this.withTimeout(this.callDevice({ type: 'predict', input }), timeoutMs),
      (client) => client.predict(input),
    );
  }

  /** Runs the model's graph with OIP tensors (`POST /v2/models/{m}/infer` on the server); `data` may be nested arrays or a typed array. */
  async infer(body: InferBody): Promise<Answer<InferAnswer>> {
    const status = await this.now();
    if (this.manifest!.graph === undefined) throw new EdgeError(`model '${status.model}' is a pipeline: it has no graph to infer with; use predict()`, 'MODEL_NOT_FOUND', 'device', 404);
    return this.answer<InferAnswer>(
      status.mode === 'device',
      status.mode === 'server' ? status.reason : undefined,
      () => this.callDevice({ type: 'infer', body }),
      (client) => client.infer(body),
    );
  }

  /** Stops the on-device runtime (a later call loads it again); calls it was running go to the server. */
  close(): void {
    this.stopWorker('the on-device model was closed');
    this.loading = undefined;
    this.current = undefined;
  }
}

/** The bundle's own model. */
const slipway = new EdgeModel(new URL('./', import.meta.url));
export default slipway;
