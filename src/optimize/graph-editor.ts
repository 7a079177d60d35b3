import { create } from '@bufbuild/protobuf';
import { ServingError } from '../errors/serving-error.js';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './proto/onnx-ml_pb.js';

export type AttributeValue = number | number[] | string | TensorProto | { float: number } | { floats: number[] };

/** An attribute in the form onnx.helper.make_attribute writes it. `{ float: 1 }` marks a float that happens to be whole. */
export function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string') return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(value) });
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(value) })
      : create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value });
  }
  if (Array.isArray(value)) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: value.map((v) => BigInt(v)) });
  if ('float' in value) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: value.float });
  if ('floats' in value) return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOATS, floats: value.floats });
  return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.TENSOR, t: value });
}

/** A node, as onnx.helper.make_node builds it. */
export function makeNode(opType: string, inputs: string[], outputs: string[], name: string, attributes: Record<string, AttributeValue> = {}, domain = ''): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    input: inputs,
    output: outputs,
    name,
    domain,
    attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
  });
}

/** An attribute's value, or undefined when the node does not set it. */
export function getAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a === undefined ? fallback : Number(a.i);
}

export function floatAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = getAttribute(node, name);
  return a === undefined ? fallback : a.f;
}

/** How messages name a node: its name, or its op type and first output when it has none. */
export function describeNode(node: NodeProto): string {
  return node.name !== '' ? `'${node.name}' (${node.opType})` : `${node.opType} producing '${node.output[0] ?? ''}'`;
}

/** The version of the default (ai.onnx) operator set the model imports. */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (entry === undefined) throw new ServingError('MODEL_LOAD_FAILED', 'the model imports no ai.onnx operator set');
  return Number(entry.version);
}

export function setDefaultOpset(model: ModelProto, version: number): void {
  const entry = model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (entry === undefined) model.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(version) }));
  else entry.version = BigInt(version);
}

/**
 * Edits one graph in place: looks initializers and consumers up by name, hands out names that are
 * not taken yet, and inserts nodes where the topological order needs them.
 */
export class GraphEditor {
  private readonly initializers = new Map<string, TensorProto>();
  private readonly names = new Set<string>();

  constructor(readonly graph: GraphProto) {
    for (const t of graph.initializer) this.initializers.set(t.name, t);
    for (const v of [...graph.input, ...graph.output, ...graph.valueInfo]) this.names.add(v.name);
    for (const t of graph.initializer) this.names.add(t.name);
    for (const n of graph.node) {
      for (const name of [...n.input, ...n.output]) this.names.add(name);
      if (n.name !== '') this.names.add(n.name);
    }
  }

  initializer(name: string): TensorProto | undefined {
    return this.initializers.get(name);
  }

  /** Is the value a graph input (which a client may feed) rather than a constant? */
  isGraphInput(name: string): boolean {
    return this.graph.input.some((i) => i.name === name);
  }

  /** A constant initializer: one that no graph input of the same name can override. */
  constant(name: string): TensorProto | undefined {
    return this.isGraphInput(name) ? undefined : this.initializers.get(name);
  }

  addInitializer(tensor: TensorProto): string {
    if (this.initializers.has(tensor.name)) throw new ServingError('INTERNAL', `initializer '${tensor.name}' exists already`);
    this.graph.initializer.push(tensor);
    this.initializers.set(tensor.name, tensor);
    this.names.add(tensor.name);
    return tensor.name;
  }

  /** `base` when free, else `base_1`, `base_2`, … */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Nodes (of this graph) that read a value. */
  consumers(name: string): NodeProto[] {
    return this.graph.node.filter((n) => n.input.includes(name));
  }

  /** Is the value read anywhere: by a node of this graph or of a subgraph (which sees outer values by name), or as a graph output? */
  isUsed(name: string): boolean {
    if (this.graph.output.some((o) => o.name === name)) return true;
    const reads = (graph: GraphProto): boolean =>
      graph.node.some((n) => n.input.includes(name) || n.attribute.some((a) => (a.g !== undefined && reads(a.g)) || a.graphs.some(reads)));
    return reads(this.graph);
  }

  /** Drops initializers nothing reads any more (weights replaced by their quantized form); graph inputs stay. */
  removeUnusedInitializers(): void {
    const kept = this.graph.initializer.filter((t) => this.isGraphInput(t.name) || this.isUsed(t.name));
    for (const t of this.graph.initializer) if (!kept.includes(t)) this.initializers.delete(t.name);
    this.graph.initializer = kept;
  }

  /**
   * Turns `Constant` nodes holding a tensor into initializers of the same name, as onnxruntime's
   * graph optimiser does at load time: exporters such as paddle2onnx keep every weight in a
   * Constant node, and a quantizer looks for weights among the initializers.
   */
  constantsToInitializers(): number {
    let moved = 0;
    this.graph.node = this.graph.node.filter((node) => {
      const value = node.opType === 'Constant' && (node.domain === '' || node.domain === 'ai.onnx') && node.attribute.length === 1 ? node.attribute[0]!.t : undefined;
      const output = node.output[0];
      if (value === undefined || output === undefined || this.initializers.has(output) || this.graph.output.some((o) => o.name === output)) return true;
      value.name = output;
      this.graph.initializer.push(value);
      this.initializers.set(output, value);
      moved++;
      return false;
    });
    return moved;
  }

  /** Replaces `node` by `replacement` (in order) at its place in the node list. */
  replaceNode(node: NodeProto, replacement: NodeProto[]): void {
    const at = this.graph.node.indexOf(node);
    if (at < 0) throw new ServingError('INTERNAL', `node ${describeNode(node)} is not in the graph`);
    this.graph.node.splice(at, 1, ...replacement);
  }

  /** Inserts nodes just before `node`. */
  insertBefore(node: NodeProto, nodes: NodeProto[]): void {
    const at = this.graph.node.indexOf(node);
    this.graph.node.splice(at < 0 ? 0 : at, 0, ...nodes);
  }

  /** Inserts nodes right after the node that produces `value` (or first, for a graph input or initializer). */
  insertAfterProducer(value: string, nodes: NodeProto[]): void {
    const at = this.graph.node.findIndex((n) => n.output.includes(value));
    this.graph.node.splice(at + 1, 0, ...nodes);
  }
}
