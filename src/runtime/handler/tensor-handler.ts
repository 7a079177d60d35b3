// What is particular to tensor handlers (defineTensorHandler), kept apart from the JSON handlers'
// schema work: telling the two forms apart, resolving the declared signature, and checking an
// answer against it before it leaves the worker.
import { ServingError } from '../../errors/serving-error.js';
import { DATATYPE_INFO, isDatatype } from '../../tensor/datatypes.js';
import { elementCount, formatShape, type Tensor } from '../../tensor/tensor.js';
import type { HandlerContext, ModelInputs, TensorHandler, TensorSignature } from './define-handler.js';
import { toTensors } from './handler-input.js';
import type { HandlerDescription, TensorHandlerSignature } from './handler-messages.js';

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';

/** A default export shaped as a tensor handler (`inputs`/`outputs` and `predict`, no zod `input`). */
export function isTensorHandler(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return d.input === undefined && d.output === undefined && (d.inputs !== undefined || d.outputs !== undefined);
}

/** Checks a tensor handler's functions, with a message that says what to write instead. */
export function checkTensorHandler(value: object, file: string, hasGraph: boolean): TensorHandler {
  const where = file.split(/[\\/]/).pop() ?? file;
  const d = value as Record<string, unknown>;
  const problems: string[] = [];
  if (!isFunction(d.predict)) problems.push('a tensor handler needs `predict(inputs, ctx)` returning its outputs');
  for (const key of ['setup', 'compare'] as const) if (d[key] !== undefined && !isFunction(d[key])) problems.push(`\`${key}\` must be a function`);
  for (const key of ['inputs', 'outputs'] as const) {
    if (!Array.isArray(d[key]) && !isFunction(d[key])) problems.push(`\`${key}\` must be a list of { name, datatype, shape } (or a function of ctx returning one)`);
  }
  if (d.maxBatchSize !== undefined && !(Number.isInteger(d.maxBatchSize) && (d.maxBatchSize as number) >= 0)) {
    problems.push('`maxBatchSize` must be a non-negative integer');
  }
  if (hasGraph) {
    problems.push('a tensor handler is the model itself, so its folder holds no version folders (<version>/model.onnx); call other models with ctx.infer()');
  }
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
  return value as TensorHandler;
}

/** The handler's declared inputs and outputs, checked, with functions of the context called. */
export function resolveSignature(handler: TensorHandler, ctx: HandlerContext, file: string): TensorHandlerSignature {
  const where = file.split(/[\\/]/).pop() ?? file;
  const maxBatchSize = handler.maxBatchSize ?? 0;
  const side = (key: 'inputs' | 'outputs'): TensorSignature[] => {
    const declared = handler[key];
    let specs: unknown;
    try {
      specs = typeof declared === 'function' ? declared(ctx) : declared;
    } catch (error) {
      throw new Error(`${where}: \`${key}(ctx)\` failed: ${(error as Error).message ?? String(error)}`, { cause: error });
    }
    if (!Array.isArray(specs) || specs.length === 0) throw new Error(`${where}: \`${key}\` must list at least one { name, datatype, shape }`);
    const seen = new Set<string>();
    return specs.map((spec: unknown, i) => {
      const s = (spec ?? {}) as Partial<TensorSignature>;
      const at = `${where}: ${key}[${i}]${typeof s.name === 'string' ? ` (${s.name})` : ''}`;
      if (typeof s.name !== 'string' || s.name === '') throw new Error(`${at}: needs a name`);
      if (seen.has(s.name)) throw new Error(`${at}: '${s.name}' is declared twice`);
      seen.add(s.name);
      if (!isDatatype(s.datatype)) throw new Error(`${at}: datatype must be one of ${Object.keys(DATATYPE_INFO).join(', ')}, not ${JSON.stringify(s.datatype)}`);
      if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isInteger(d) && d >= -1)) {
        throw new Error(`${at}: shape must be a list of sizes (-1: any size), not ${JSON.stringify(s.shape)}`);
      }
      if (maxBatchSize > 0 && s.shape[0] !== -1) {
        throw new Error(`${at}: with maxBatchSize ${maxBatchSize}, dimension 0 is the batch: declare the shape as [-1, …], not ${formatShape(s.shape)}`);
      }
      return { name: s.name, datatype: s.datatype, shape: [...s.shape] };
    });
  };
  return { maxBatchSize, inputs: side('inputs'), outputs: side('outputs') };
}

export function describeTensorHandler(handler: TensorHandler, signature: TensorHandlerSignature): HandlerDescription {
  return {
    ...(handler.description !== undefined && { description: handler.description }),
    mode: 'tensor',
    inputSchema: {},
    outputSchema: {},
    fileFields: [],
    compares: handler.compare !== undefined,
    signature,
  };
}

/**
 * The outputs asked for, from what `predict` returned, checked against the declared signature:
 * each present, of its datatype, of a shape that fits (as many rows as the request when the handler
 * batches), with as many elements as the shape says. Anything else is the handler's bug.
 */
export function tensorOutputs(returned: ModelInputs, signature: TensorHandlerSignature, wanted: readonly string[], rows: number | undefined, model: string): Tensor[] {
  const fail = (message: string): never => {
    throw new ServingError('HANDLER_FAILED', `handler '${model}' answered ${message}`);
  };
  let tensors: Tensor[];
  try {
    tensors = toTensors(returned, 'output');
  } catch (error) {
    return fail(`outputs it cannot send: ${(error as Error).message}`);
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));
  return wanted.map((name) => {
    const spec = signature.outputs.find((o) => o.name === name)!;
    const tensor = byName.get(name);
    if (tensor === undefined) return fail(`no output '${name}' (it answered ${tensors.map((t) => `'${t.name}'`).join(', ') || 'nothing'})`);
    if (tensor.datatype !== spec.datatype) return fail(`output '${name}' as ${tensor.datatype}; it declares ${spec.datatype}`);
    const fits = tensor.shape.length === spec.shape.length && tensor.shape.every((d, i) => spec.shape[i] === -1 || spec.shape[i] === d);
    if (!fits) return fail(`output '${name}' of shape ${formatShape(tensor.shape)}; it declares ${formatShape(spec.shape)}`);
    if (rows !== undefined && tensor.shape[0] !== rows) return fail(`output '${name}' with ${tensor.shape[0]} rows for a request of ${rows}`);
    if (tensor.data.length !== elementCount(tensor.shape)) {
      return fail(`output '${name}' with ${tensor.data.length} elements for shape ${formatShape(tensor.shape)} (${elementCount(tensor.shape)})`);
    }
    return tensor;
  });
}
