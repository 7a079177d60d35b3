// The model on this device: onnxruntime-web sessions for the bundle's graphs and the handler
// compiled for the browser, running requests exactly as the server's router and handler workers do
// (same request checks, same handler flow, same JSON), so an answer has the same shape wherever it
// came from. Runs inside device-worker.ts.
import type * as OrtWeb from 'onnxruntime-web';
import { categoryOf, type ErrorCode } from '../../errors/codes.js';
import { ServingError } from '../../errors/serving-error.js';
import { assembleRequest, encodeInferResponse, requestEnvelope } from '../../protocol/http/oip-json.js';
import { validateRequest } from '../../router/validate-request.js';
import { runOrtSession, type OrtSessionLike, type OrtTensorFactory } from '../../runtime/engines/onnx/run-session.js';
import type { HandlerContext, HandlerDefinition, InferOptions, ModelInputs, ModelOutputs, PredictContext } from '../../runtime/handler/define-handler.js';
import type { UploadedFile } from '../../runtime/handler/file-schema.js';
import { checkDefinition, describeDefinition, formInput, toTensors } from '../../runtime/handler/handler-input.js';
import { handlerError, ModelCallError, runHandler, runSetup } from '../../runtime/handler/run-handler.js';
import { DATATYPE_INFO } from '../../tensor/datatypes.js';
import { parseDatatype, parseShape, tensorFromJson } from '../../tensor/from-json.js';
import type { InferenceRequest } from '../../tensor/inference.js';
import { elementCount, formatShape, type Tensor } from '../../tensor/tensor.js';
import type { EdgeGraph, EdgeManifest } from '../edge-manifest.js';
import type { Backend, InferAnswer, InferBody, PredictInput } from './worker-messages.js';

type Ort = typeof OrtWeb;

// wasm-feature-detect's SIMD probe: a module using one v128 instruction validates only with SIMD.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/** A failure the device is to blame for (not the request), so the page should ask the server. */
export class DeviceError extends Error {}

/** Why WebGPU is not usable here, or undefined when it is. `navigator.gpu` may exist and still give no adapter. */
async function webgpuProblem(): Promise<string | undefined> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (gpu === undefined) return 'this browser has no WebGPU (navigator.gpu is missing)';
  try {
    return (await gpu.requestAdapter()) === null ? 'the browser offers no WebGPU adapter (requestAdapter() returned null)' : undefined;
  } catch (error) {
    return `WebGPU's requestAdapter() failed: ${(error as Error).message}`;
  }
}

async function fetchBytes(url: URL, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new DeviceError(`${what} could not be fetched from ${url.pathname}: ${(error as Error).message}`);
  }
  if (!response.ok) throw new DeviceError(`${what} could not be fetched from ${url.pathname}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

interface Graph {
  entry: EdgeGraph;
  session: OrtSessionLike & { release(): Promise<void> };
}

/** What a request is told when it fails on this device. */
export interface DeviceFailure {
  code: ErrorCode;
  message: string;
  deviceFault: boolean;
}

/** The caller's own mistakes answer the same on the server, so they are not worth a second try there. */
function isClientError(code: ErrorCode): boolean {
  const category = categoryOf(code);
  return category === 'INVALID_ARGUMENT' || category === 'PAYLOAD_TOO_LARGE' || category === 'UNSUPPORTED_MEDIA_TYPE';
}

const NEVER_ABORTED = new AbortController().signal;

export class DeviceRuntime {
  private ort: Ort | undefined;
  private readonly graphs = new Map<string, Graph>();
  private handler: HandlerDefinition | undefined;
  private handlerDescription: ReturnType<typeof describeDefinition> | undefined;
  private state: unknown;
  backend: Backend = 'wasm';
  threads = 1;

  constructor(
    private readonly manifest: EdgeManifest,
    private readonly base: URL,
  ) {}

  /** Starts onnxruntime-web, opens every graph and sets the handler up; a DeviceError says why this device cannot. */
  async load(requested: 'auto' | Backend, threads: number): Promise<void> {
    const { manifest } = this;
    if (!WebAssembly.validate(SIMD_PROBE)) throw new DeviceError("this browser's WebAssembly has no SIMD, which onnxruntime-web's build needs");
    let backend: Backend = 'wasm';
    if (requested !== 'wasm') {
      const problem = manifest.runtime.webgpu === undefined ? 'the bundle was built without WebGPU (--no-webgpu)' : await webgpuProblem();
      if (problem === undefined) backend = 'webgpu';
      else if (requested === 'webgpu') throw new DeviceError(`WebGPU was asked for, but ${problem}`);
    }
    try {
      await this.openGraphs(backend, threads);
    } catch (error) {
      if (backend === 'wasm' || requested === 'webgpu') throw error;
      // The browser offers WebGPU but a graph does not run on it: wasm may still run it.
      await this.release();
      await this.openGraphs('wasm', threads);
    }
    if (manifest.handler?.runs === 'device') {
      const url = new URL(manifest.handler.file, this.base);
      let module: { default?: unknown };
      try {
        module = (await import(/* @vite-ignore */ url.href)) as { default?: unknown };
      } catch (error) {
        throw new DeviceError(`the handler could not be loaded from ${url.pathname}: ${(error as Error).message}`);
      }
      try {
        this.handler = checkDefinition(module.default, 'handler.js', manifest.graph !== undefined);
        this.handlerDescription = describeDefinition(this.handler);
        this.state = await runSetup(this.handler, this.context(manifest.handler.parameters));
      } catch (error) {
        throw new DeviceError(`the handler could not start on this device: ${(error as Error).message}`);
      }
    }
  }

  /** Imports the build for `backend` and opens every graph with it. */
  private async openGraphs(backend: Backend, threads: number): Promise<void> {
    const { manifest } = this;
    const build = backend === 'webgpu' ? manifest.runtime.webgpu! : manifest.runtime.wasm;
    const moduleUrl = new URL(build.module, this.base);
    let ort: Ort;
    try {
      ort = (await import(/* @vite-ignore */ moduleUrl.href)) as Ort;
    } catch (error) {
      throw new DeviceError(`onnxruntime-web could not be loaded from ${moduleUrl.pathname}: ${(error as Error).message}`);
    }
    // Threads need SharedArrayBuffer, which browsers only give cross-origin isolated pages (COOP/COEP).
    this.threads = crossOriginIsolated ? Math.max(1, threads) : 1;
    ort.env.wasm.numThreads = this.threads;
    ort.env.wasm.wasmPaths = new URL('./', moduleUrl).href;
    ort.env.logLevel = 'error';
    this.ort = ort;
    this.backend = backend;
    for (const [name, entry] of Object.entries(manifest.graphs)) {
      const bytes = await fetchBytes(new URL(entry.file, this.base), `model '${name}'`);
      try {
        const session = await ort.InferenceSession.create(bytes, { executionProviders: [backend], graphOptimizationLevel: 'all' });
        this.graphs.set(name, { entry, session });
      } catch (error) {
        throw new DeviceError(`model '${name}' could not be loaded on this device (${backend}): ${(error as Error).message}`);
      }
    }
  }

  private async release(): Promise<void> {
    await Promise.all([...this.graphs.values()].map((g) => g.session.release().catch(() => undefined)));
    this.graphs.clear();
  }

  private context(parameters: Record<string, string | number | boolean>): HandlerContext {
    return Object.freeze({
      model: this.manifest.model,
      dir: this.base.href,
      hasGraph: this.manifest.graph !== undefined,
      parameters: Object.freeze({ ...parameters }),
      infer: (model: string, inputs: ModelInputs, options?: InferOptions) => this.callModel(model, inputs, options),
      readFile: (path: string) => this.readFile(path),
    });
  }

  private async readFile(path: string): Promise<Uint8Array> {
    const normalised = path.replace(/^\.\//, '');
    if (!this.manifest.files.includes(normalised)) {
      throw new Error(`'${path}' is not in this bundle: list it under edge.files in the config.yaml of model '${this.manifest.model}'`);
    }
    return fetchBytes(new URL(`files/${normalised.split('/').map(encodeURIComponent).join('/')}`, this.base), `file '${path}'`);
  }

  /** ctx.infer on the device: the router's request checks, then the session. */
  private async callModel(model: string, inputs: ModelInputs, options: InferOptions = {}): Promise<ModelOutputs> {
    const graph = this.graphs.get(model);
    if (graph === undefined) {
      throw new ModelCallError(
        'MODEL_NOT_FOUND',
        `model '${model}': not in this bundle (a pipeline lists the models it calls under edge.models in the config.yaml of '${this.manifest.model}')`,
      );
    }
    const request: InferenceRequest = {
      model,
      inputs: toTensors(inputs),
      ...(options.outputs !== undefined && { outputs: options.outputs.map((name) => ({ name })) }),
    };
    try {
      const outputs = await this.run(graph, request);
      return Object.fromEntries(outputs.map((t) => [t.name, t]));
    } catch (error) {
      const serving = error instanceof ServingError ? error : new ServingError('INFERENCE_FAILED', (error as Error).message);
      throw new ModelCallError(serving.code, `model '${model}': ${serving.message}`);
    }
  }

  private run(graph: Graph, request: InferenceRequest) {
    const outputNames = validateRequest(graph.entry.config, request);
    return runOrtSession(this.ort as unknown as OrtTensorFactory, graph.session, request.inputs, outputNames);
  }

  /** OIP inference on the model's own graph; the answer is the server's JSON. */
  async infer(body: InferBody): Promise<InferAnswer> {
    const own = this.manifest.graph === undefined ? undefined : this.graphs.get(this.manifest.model);
    if (own === undefined) throw new ServingError('MODEL_NOT_FOUND', `model '${this.manifest.model}' is a pipeline: it has no graph of its own to infer with`);
    const envelope = requestEnvelope(body, 'request body');
    const request = assembleRequest(this.manifest.model, undefined, envelope, envelope.inputs.map(tensorFromValue));
    const outputs = await this.run(own, request);
    const response = { model_name: this.manifest.model, model_version: own.entry.version, outputs, ...(request.id !== undefined && { id: request.id }) };
    return JSON.parse(encodeInferResponse(response)) as InferAnswer;
  }

  /** A handler request; the answer is what the server's handler route would send. */
  async predict(input: PredictInput): Promise<unknown> {
    const handler = this.handler;
    if (handler === undefined || this.handlerDescription === undefined) throw new ServingError('HANDLER_NOT_FOUND', `model '${this.manifest.model}' has no handler on this device`);
    const raw =
      input.kind === 'form'
        ? formInput(input.fields, await Promise.all(input.files.map(async (f) => ({ name: f.name, file: await uploaded(f.file, f.filename) }))), this.handlerDescription)
        : await uploadedValues(input.values);
    const ctx: PredictContext<unknown> = Object.freeze({
      ...this.context(this.manifest.handler?.runs === 'device' ? this.manifest.handler.parameters : {}),
      state: this.state,
      signal: NEVER_ABORTED,
      requestId: undefined,
    });
    const output = await runHandler(handler, raw, ctx);
    // The server sends JSON; so does this, value for value.
    return JSON.parse(JSON.stringify(output)) as unknown;
  }

  /** What the page is told about a failed request, and whether the server should try it. */
  failure(error: unknown): DeviceFailure {
    if (error instanceof DeviceError) return { code: 'INTERNAL', message: error.message, deviceFault: true };
    const { code, message } = handlerError(error, this.manifest.model);
    return { code, message, deviceFault: !isClientError(code) };
  }
}

/** An OIP input tensor whose data is JSON (nested arrays) or, through the API, a typed array of the datatype's kind. */
function tensorFromValue(value: unknown): Tensor {
  const raw = value as { name?: unknown; datatype?: unknown; shape?: unknown; data?: unknown };
  if (typeof raw !== 'object' || raw === null || !ArrayBuffer.isView(raw.data)) return tensorFromJson(value, 'input');
  const what = `input '${String(raw.name)}'`;
  if (typeof raw.name !== 'string' || raw.name === '') throw new ServingError('INVALID_INPUT', "input is missing a string 'name'");
  const datatype = parseDatatype(raw.datatype, what);
  const shape = parseShape(raw.shape, what);
  const arrayType = DATATYPE_INFO[datatype].arrayType;
  if (arrayType === undefined || !(raw.data instanceof arrayType)) {
    throw new ServingError('INVALID_INPUT', `${what}: ${datatype} data must be ${arrayType === undefined ? 'an array of strings' : `a ${arrayType.name}`}, got a ${raw.data.constructor.name}`);
  }
  const length = (raw.data as ArrayLike<unknown>).length;
  if (length !== elementCount(shape)) throw new ServingError('INVALID_INPUT', `${what}: ${length} values, but shape ${formatShape(shape)} holds ${elementCount(shape)}`);
  return { name: raw.name, datatype, shape, data: raw.data as Tensor['data'] };
}

async function uploaded(blob: Blob, filename?: string): Promise<UploadedFile> {
  const file: UploadedFile = { data: new Uint8Array(await blob.arrayBuffer()) };
  if (blob.type !== '') file.mediaType = blob.type;
  const name = filename ?? (blob as File).name;
  if (typeof name === 'string' && name !== '') file.filename = name;
  return file;
}

/** Blobs, ArrayBuffers and byte arrays in a predict() input become uploaded files, as multipart parts do on the server. */
async function uploadedValues(values: Record<string, unknown>): Promise<Record<string, unknown>> {
  const one = async (value: unknown): Promise<unknown> => {
    if (value instanceof Blob) return uploaded(value);
    if (value instanceof ArrayBuffer) return { data: new Uint8Array(value) } satisfies UploadedFile;
    if (value instanceof Uint8Array) return { data: value } satisfies UploadedFile;
    return value;
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) out[key] = Array.isArray(value) ? await Promise.all(value.map(one)) : await one(value);
  return out;
}
