import { nestValues, tensorJsonValues } from '../../tensor/json-values.js';
import type { Parameters, Tensor } from '../../tensor/tensor.js';

/** The tensors flowing between a graph's steps; an Ensemble node's answer keeps each step's part by key. */
export interface Message {
  tensors: Tensor[];
  parts?: Array<[string, Message]>;
}

/**
 * The JSON document a KServe condition is tested on, for a message of tensors. KServe's nodes
 * exchange JSON bodies, so conditions are written against them: v1 `instances`/`predictions` rows
 * or v2 `inputs`/`outputs` tensors. The view offers both for the same tensors (a message is one
 * step's answer and the next one's request), plus the request's `parameters`; an Ensemble's answer
 * is `{stepName: view}`, as KServe's router combines it. Fields are built only when a condition
 * reads them, so routing on a parameter never converts a tensor.
 *
 * @example
 * messageView({ tensors: [label] }, {}); // { predictions: ['dog'], outputs: [{ name: 'label', … }], … }
 */
export function messageView(message: Message, parameters: Parameters | undefined): Record<string, unknown> {
  if (message.parts !== undefined) {
    return Object.fromEntries(message.parts.map(([key, part]) => [key, messageView(part, parameters)]));
  }
  const view: Record<string, unknown> = {};
  const tensors = lazy(() => message.tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: tensorJsonValues(t) })));
  const rows = lazy(() => rowsOf(message.tensors));
  define(view, 'inputs', tensors);
  define(view, 'outputs', tensors);
  define(view, 'instances', rows);
  define(view, 'predictions', rows);
  if (parameters !== undefined) view.parameters = parameters;
  return view;
}

function lazy<T>(make: () => T): () => T {
  let made = false;
  let value: T;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value;
  };
}

function define(view: Record<string, unknown>, key: string, get: () => unknown): void {
  Object.defineProperty(view, key, { get, enumerable: true });
}

/**
 * KServe v1 rows, as TF Serving's row format writes them: one entry per batch row, the value itself
 * for a single tensor, an object of name → value for several (undefined when their rows differ). A
 * row of one element (shape [n, 1]) is that element, as KServe v1 servers answer a label per row,
 * so `predictions.0=="dog"` reads a [n, 1] label tensor as KServe's examples expect.
 */
function rowsOf(tensors: readonly Tensor[]): unknown[] | undefined {
  const first = tensors[0];
  if (first === undefined) return [];
  const rowsOfTensor = (t: Tensor): unknown[] => {
    const shape = t.shape.length === 2 && t.shape[1] === 1 ? [t.shape[0]!] : t.shape;
    const nested = nestValues(tensorJsonValues(t), shape);
    return shape.length === 0 ? [nested] : (nested as unknown[]);
  };
  if (tensors.length === 1) return rowsOfTensor(first);
  const rows = first.shape[0];
  if (rows === undefined || tensors.some((t) => t.shape[0] !== rows)) return undefined;
  const nested = tensors.map((t) => [t.name, rowsOfTensor(t)] as const);
  return Array.from({ length: rows }, (_, r) => Object.fromEntries(nested.map(([name, rowsOfT]) => [name, rowsOfT[r]])));
}
