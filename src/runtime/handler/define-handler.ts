import type { z } from 'zod';
import type { Datatype, TensorData } from '../../tensor/datatypes.js';
import type { Parameters, Tensor } from '../../tensor/tensor.js';

/** A tensor handed to `ctx.infer`; the datatype may be left out when the typed array says it. */
export interface TensorInput {
  datatype?: Datatype;
  shape: number[];
  data: TensorData;
}

/** Inputs for `ctx.infer`: keyed by input name, or a list of named tensors. */
export type ModelInputs = Record<string, TensorInput> | Tensor[];

/** A model's outputs, keyed by output name. */
export type ModelOutputs = Record<string, Tensor>;

export interface InferOptions {
  /** A version number as a string; the newest READY version when absent. */
  version?: string;
  /** Outputs to compute; all of the model's outputs when absent. */
  outputs?: string[];
  /** OIP request parameters (`priority`, `timeout`, …). */
  parameters?: Parameters;
}

/** What a handler can reach, in `setup` and in every request. */
export interface HandlerContext {
  /** The name of the model this handler belongs to. */
  readonly model: string;
  /** The model's folder (where `handler.ts` and its data files live); in a browser bundle, the bundle's URL. */
  readonly dir: string;
  /** True when the folder also holds a graph (`<version>/model.onnx`) that `ctx.infer(ctx.model, …)` runs. */
  readonly hasGraph: boolean;
  /** `parameters` from the model's `config.yaml`. */
  readonly parameters: Readonly<Record<string, string | number | boolean>>;
  /**
   * Runs any model in the repository through the same router and scheduler as every client
   * request, so dynamic batching and the response cache apply. Input buffers are moved to the
   * model (they become unusable here); outputs are yours.
   */
  infer(model: string, inputs: ModelInputs, options?: InferOptions): Promise<ModelOutputs>;
  /**
   * Reads a data file of the model's folder (a vocabulary, a label list) by its path relative to
   * the folder. Use this rather than `node:fs`, so the handler also runs in a browser bundle
   * (`slipway edge`), which ships the files listed under `edge.files` in config.yaml. Absolute paths
   * work in Node only.
   *
   * @example
   * const labels = new TextDecoder().decode(await ctx.readFile('labels.txt')).split('\n');
   */
  readFile(path: string): Promise<Uint8Array>;
}

/** The context of one request. */
export interface PredictContext<State> extends HandlerContext {
  /** What `setup` returned (once per worker). */
  readonly state: State;
  /** Aborted when the request times out; pass it to anything that can be cancelled. */
  readonly signal: AbortSignal;
  /** The HTTP request id (`x-request-id`), for logs. */
  readonly requestId: string | undefined;
}

type MaybePromise<T> = T | Promise<T>;

interface HandlerBase<In extends z.ZodType, Out extends z.ZodType, State> {
  /** One line shown with the model's description (and, later, in the UI and the OpenAPI document). */
  description?: string;
  /** Validates (and transforms) the request body; `file()` and `image()` fields accept uploads. */
  input: In;
  /** Validates what the handler returns before it is sent: a mismatch is a handler bug (500). */
  output: Out;
  /** Runs once per worker before it takes requests; its result is `ctx.state`. */
  setup?: (ctx: HandlerContext) => MaybePromise<State>;
  /**
   * Judges whether a shadow version's answer agrees with the primary's, for shadow traffic and
   * rollouts that mirror requests to this model (its graph's outputs, both keyed by name). Without
   * it, classifiers compare their top-1 label and other tensors their max absolute difference.
   * Return a boolean, or `{ agree, difference }` (the difference goes to the metrics).
   */
  compare?: (primary: ModelOutputs, shadow: ModelOutputs, ctx: HandlerContext) => MaybePromise<boolean | ShadowComparison>;
}

/** A handler's verdict on a shadow answer. */
export interface ShadowComparison {
  agree: boolean;
  /** How far apart the answers are, in the handler's own terms (e.g. an edit distance). */
  difference?: number;
}

/** A handler that does the whole prediction itself, calling whichever models it needs. */
export interface PredictHandler<In extends z.ZodType, Out extends z.ZodType, State> extends HandlerBase<In, Out, State> {
  predict(input: z.output<In>, ctx: PredictContext<State>): MaybePromise<z.input<Out>>;
}

/** A handler around its own model's graph: input → tensors → the graph → output. */
export interface GraphHandler<In extends z.ZodType, Out extends z.ZodType, State> extends HandlerBase<In, Out, State> {
  /** Builds the graph's input tensors. */
  preprocess(input: z.output<In>, ctx: PredictContext<State>): MaybePromise<ModelInputs>;
  /** Turns the graph's outputs into the response; `input` is the validated request. */
  postprocess(outputs: ModelOutputs, ctx: PredictContext<State>, input: z.output<In>): MaybePromise<z.input<Out>>;
}

export type HandlerDefinition<In extends z.ZodType = z.ZodType, Out extends z.ZodType = z.ZodType, State = unknown> =
  | PredictHandler<In, Out, State>
  | GraphHandler<In, Out, State>;

/**
 * Declares a model's handler: the TypeScript around a graph (decoding, resizing, tokenising,
 * decoding the output) or a pipeline over several models. Export it as the default export of
 * `handler.ts` (or `.js`) in the model's folder; Slipway transpiles it at load time and runs it in
 * worker threads, serving it at `POST /api/models/{model}/predict`.
 *
 * @example
 * // models/digits/handler.ts
 * import { defineHandler, image, z } from 'slipway';
 *
 * export default defineHandler({
 *   input: z.object({ image: image({ channels: 1 }) }),
 *   output: z.object({ label: z.number().int(), probabilities: z.array(z.number()) }),
 *   preprocess: ({ image }) => ({ image: { shape: [1, 1, 8, 8], data: toDigitsPixels(image) } }),
 *   postprocess: ({ probabilities }) => {
 *     const p = Array.from(probabilities!.data as Float32Array);
 *     return { label: p.indexOf(Math.max(...p)), probabilities: p };
 *   },
 * });
 */
export function defineHandler<In extends z.ZodType, Out extends z.ZodType, State = undefined>(
  definition: PredictHandler<In, Out, State>,
): PredictHandler<In, Out, State>;
export function defineHandler<In extends z.ZodType, Out extends z.ZodType, State = undefined>(
  definition: GraphHandler<In, Out, State>,
): GraphHandler<In, Out, State>;
export function defineHandler<In extends z.ZodType, Out extends z.ZodType, State>(
  definition: HandlerDefinition<In, Out, State>,
): HandlerDefinition<In, Out, State> {
  return definition;
}

/** One tensor of a tensor handler's signature, as OIP metadata shows it. */
export interface TensorSignature {
  name: string;
  datatype: Datatype;
  /** The full shape, batch dimension included when `maxBatchSize` is set; -1: any size. */
  shape: number[];
}

/** The context of one tensor request. */
export interface TensorPredictContext<State> extends PredictContext<State> {
  /** The outputs the caller asked for (every declared output when it named none); computing only these is allowed. */
  readonly outputs: readonly string[];
  /** The request's OIP parameters (`priority`, `routing_key`, anything the client sent), without `timeout`. */
  readonly requestParameters: Readonly<Parameters>;
}

/**
 * A handler that takes and returns tensors: served as a model over OIP REST and gRPC (and the
 * dialects, batch jobs, the UI), and usable as a step of a graph, whose planner checks its
 * input_map/output_map against `inputs`/`outputs` when the graph loads.
 */
export interface TensorHandler<State = unknown> {
  /** One line shown with the model's description. */
  description?: string;
  /**
   * 0 or absent: the shapes are exactly as declared. N > 0: dimension 0 of every input and output
   * is the batch (declare it as -1), a request holds up to N rows, and every output has as many
   * rows as the inputs.
   */
  maxBatchSize?: number;
  /** The inputs the handler takes; a function reads the model's `parameters` (e.g. a k from config.yaml). */
  inputs: TensorSignature[] | ((ctx: HandlerContext) => TensorSignature[]);
  /** The outputs it answers; each answer is checked against them (a mismatch is the handler's bug: 500). */
  outputs: TensorSignature[] | ((ctx: HandlerContext) => TensorSignature[]);
  /** Runs once per worker before it takes requests; its result is `ctx.state`. */
  setup?: (ctx: HandlerContext) => MaybePromise<State>;
  /** As a JSON handler's `compare`: judges a shadow version's answer against the primary's. */
  compare?: (primary: ModelOutputs, shadow: ModelOutputs, ctx: HandlerContext) => MaybePromise<boolean | ShadowComparison>;
  /**
   * Computes the outputs from the inputs (already checked against `inputs` by the router). The
   * input tensors are the handler's to keep or reuse; typed arrays in the answer are moved out of
   * the worker (do not use them after returning).
   */
  predict(inputs: ModelOutputs, ctx: TensorPredictContext<State>): MaybePromise<ModelInputs>;
}

/**
 * Declares a tensor handler: TypeScript that is served as a model (OIP infer, metadata from
 * `inputs`/`outputs`) and can be a step of an ensemble or an InferenceGraph. Export it as the default
 * export of `handler.ts` in a model folder that holds no version folders.
 *
 * @example
 * // models/digits_topk/handler.ts
 * import { defineTensorHandler } from 'slipway';
 *
 * export default defineTensorHandler({
 *   maxBatchSize: 64,
 *   inputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }],
 *   outputs: [{ name: 'best', datatype: 'INT64', shape: [-1, 1] }],
 *   predict: ({ probabilities }) => {
 *     const [rows, n] = probabilities!.shape as [number, number];
 *     const p = probabilities!.data as Float32Array;
 *     const best = new BigInt64Array(rows);
 *     for (let r = 0; r < rows; r++) best[r] = BigInt(p.subarray(r * n, r * n + n).indexOf(Math.max(...p.subarray(r * n, r * n + n))));
 *     return { best: { shape: [rows, 1], data: best } };
 *   },
 * });
 */
export function defineTensorHandler<State = undefined>(definition: TensorHandler<State>): TensorHandler<State> {
  return definition;
}
