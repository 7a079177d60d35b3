import type { InferenceGraphFile, InferenceRouterFile, InferenceStepFile } from '../../config/inference-graph-config.js';
import type { ModelConfig, ModelConfigFile } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import { GjsonSyntaxError, parseGjson } from './gjson.js';
import { graphBatchSize, graphModelConfig } from './graph-model-config.js';
import type { GraphPlan, PlanNode, PlanStep, StepTarget, TensorSource, TensorType } from './graph-plan.js';
import type { JsonStepFields } from './json-handler-step.js';
import { parseRemoteUrl, type StepCatalog } from './step-catalog.js';
import { describeType, invalidGraph, mismatch, names, signatureOf, union, type Signature } from './tensor-types.js';

export const ROOT_NODE = 'root';

/** The tensors a step receives; `open` collects the graph's own inputs as steps ask for them. */
interface Message {
  tensors: Signature;
  open?: Signature;
}

interface SequenceContext {
  request: Message;
  response: Signature | undefined;
  /** Earlier steps of the same Sequence: name → (index, answer). */
  earlier: Map<string, { index: number; answer: Signature }>;
}

/**
 * Validates a KServe InferenceGraph against the models it calls and turns it into a plan. Every
 * error names the graph, the node, the step and the field (`spec.nodes.root.steps[1] (classify).
 * serviceName`). KServe's own rules (a `root` node, one target per step, unique step names, weights
 * that sum to 100) come first, then what only tensors can check: unknown models, cycles, unreachable
 * nodes, inputs nothing feeds, and datatypes or shapes that do not fit.
 *
 * @example
 * const plan = planInferenceGraph('pipeline', file, {}, catalog);
 * plan.config.inputs; // the graph's inputs, derived from its first steps
 */
export function planInferenceGraph(name: string, file: InferenceGraphFile, modelFile: ModelConfigFile, catalog: StepCatalog): GraphPlan {
  return new InferenceGraphPlanner(name, file, modelFile, catalog).plan();
}

class InferenceGraphPlanner {
  private readonly nodes = new Map<string, PlanNode>();
  private readonly dependencies = new Set<string>();
  private readonly batchLimits: number[] = [];
  private readonly declared: Record<string, InferenceRouterFile>;
  private readonly stepTimeoutMs: number | undefined;
  private readonly requestTimeoutSeconds: number | undefined;

  constructor(
    private readonly graph: string,
    file: InferenceGraphFile,
    private readonly modelFile: ModelConfigFile,
    private readonly catalog: StepCatalog,
  ) {
    this.declared = file.spec.nodes;
    const serviceClient = file.spec.routerTimeouts?.serviceClient;
    this.stepTimeoutMs = serviceClient === undefined ? undefined : serviceClient * 1000;
    this.requestTimeoutSeconds = file.spec.timeout;
  }

  private fail(where: string, message: string): never {
    throw invalidGraph(`graph '${this.graph}': ${where}: ${message}`);
  }

  plan(): GraphPlan {
    if (this.declared[ROOT_NODE] === undefined) {
      this.fail('spec.nodes', `no node is named '${ROOT_NODE}'; KServe enters a graph at its root node (nodes: ${Object.keys(this.declared).join(', ') || 'none'})`);
    }
    for (const [node, router] of Object.entries(this.declared)) this.checkNode(node, router);
    this.checkReachable();
    const inputs: Signature = new Map();
    const outputs = this.visit(ROOT_NODE, { tensors: new Map(), open: inputs });
    if (outputs.size === 0) this.fail(`spec.nodes.${ROOT_NODE}`, 'the graph answers no tensor');
    assignLabels([...this.nodes.values()]);
    const config = graphModelConfig(this.graph, 'inference_graph', this.modelFile, inputs, outputs, graphBatchSize(inputs, outputs, this.batchLimits));
    // KServe's spec.timeout bounds a whole request, as a request's own `timeout` parameter does.
    if (this.requestTimeoutSeconds !== undefined) config.scheduling.defaultTimeoutUs = this.requestTimeoutSeconds * 1e6;
    return { graph: this.graph, root: ROOT_NODE, nodes: this.nodes, config, dependencies: [...this.dependencies] };
  }

  /** KServe's admission rules, node by node. */
  private checkNode(node: string, router: InferenceRouterFile): void {
    const steps = router.steps ?? [];
    const at = `spec.nodes.${node}`;
    if (steps.length === 0) this.fail(`${at}.steps`, `a ${router.routerType} node needs at least one step`);
    const seen = new Set<string>();
    let weights = 0;
    steps.forEach((step, i) => {
      const where = stepWhere(node, i, step);
      if (step.name !== undefined) {
        if (seen.has(step.name)) this.fail(`${where}.name`, `node '${node}' has more than one step named '${step.name}'`);
        seen.add(step.name);
      }
      const targets = [step.nodeName, step.serviceName, step.serviceUrl].filter((t) => t !== undefined);
      if (targets.length !== 1) {
        this.fail(where, targets.length === 0 ? 'a step needs a target: nodeName, serviceName or serviceUrl' : 'a step has one target: nodeName, serviceName or serviceUrl, not several');
      }
      if (router.routerType === 'Splitter') {
        if (step.weight === undefined) this.fail(`${where}.weight`, 'every step of a Splitter node needs a weight');
        weights += step.weight;
      } else if (step.weight !== undefined) {
        this.fail(`${where}.weight`, `weight only applies to Splitter nodes; node '${node}' is a ${router.routerType}`);
      }
      if (router.routerType === 'Switch' && step.condition === undefined) this.fail(`${where}.condition`, 'every step of a Switch node needs a condition');
      if ((router.routerType === 'Ensemble' || router.routerType === 'Splitter') && step.condition !== undefined) {
        this.fail(`${where}.condition`, `conditions only apply to Sequence and Switch nodes; node '${node}' is a ${router.routerType}`);
      }
      if (step.data !== undefined && step.data !== '$request' && step.data !== '$response') {
        this.fail(`${where}.data`, `expected $request (the node's input, the default) or $response (the step before's answer), got '${step.data}'; pick single tensors with inputMap`);
      }
      if (step.data === '$response' && router.routerType !== 'Sequence') {
        this.fail(`${where}.data`, `$response is the answer of the step before, which only a Sequence has; node '${node}' is a ${router.routerType}`);
      }
    });
    if (router.routerType === 'Splitter' && weights !== 100) this.fail(`${at}.steps`, `the weights of a Splitter node sum to ${weights}; they must sum to 100`);
  }

  /** Unknown nodes, cycles and nodes the root never reaches. */
  private checkReachable(): void {
    const reached = new Set<string>();
    const walk = (node: string, path: string[]): void => {
      if (path.includes(node)) this.fail(`spec.nodes.${path.at(-1)}`, `cycle: ${[...path.slice(path.indexOf(node)), node].join(' → ')}`);
      reached.add(node);
      (this.declared[node]!.steps ?? []).forEach((step, i) => {
        if (step.nodeName === undefined) return;
        if (this.declared[step.nodeName] === undefined) {
          this.fail(`${stepWhere(node, i, step)}.nodeName`, `no node is named '${step.nodeName}' (nodes: ${Object.keys(this.declared).join(', ')})`);
        }
        walk(step.nodeName, [...path, node]);
      });
    };
    walk(ROOT_NODE, []);
    const unreachable = Object.keys(this.declared).filter((n) => !reached.has(n));
    if (unreachable.length > 0) {
      this.fail(`spec.nodes.${unreachable[0]}`, `node '${unreachable[0]}' is not reachable from '${ROOT_NODE}' (no step names it in nodeName)`);
    }
  }

  /** Plans a node (once) and checks it for the message it receives here; returns what it answers. */
  private visit(node: string, input: Message): Signature {
    const router = this.declared[node]!;
    const steps = router.steps ?? [];
    const planned = this.nodes.get(node);
    const plans: PlanStep[] = planned?.steps ?? [];
    const build = (i: number, data: Message, context: SequenceContext | undefined): Signature => {
      const { plan, answer } = this.step(node, i, steps[i]!, data, input, context);
      if (planned === undefined) plans.push(plan);
      else if (JSON.stringify(planned.steps[i]!.inputs) !== JSON.stringify(plan.inputs)) {
        this.fail(stepWhere(node, i, steps[i]!), `node '${node}' is reached twice with inputs that map differently; give the step an inputMap`);
      }
      return answer;
    };
    let answer: Signature;
    switch (router.routerType) {
      case 'Sequence':
        answer = this.sequence(node, steps, input, build);
        break;
      case 'Switch':
      case 'Splitter':
        answer = union(
          steps.map((_, i) => build(i, input, undefined)),
          `spec.nodes.${node}`,
        );
        break;
      case 'Ensemble':
        answer = this.ensemble(node, steps, input, build);
        break;
    }
    if (planned === undefined) this.nodes.set(node, { kind: router.routerType, name: node, steps: plans });
    return answer;
  }

  private sequence(
    node: string,
    steps: InferenceStepFile[],
    input: Message,
    build: (i: number, data: Message, context: SequenceContext) => Signature,
  ): Signature {
    const context: SequenceContext = { request: input, response: undefined, earlier: new Map() };
    // A Sequence answers with its last step, or earlier: when a condition fails it stops and
    // returns the answer so far, and a Soft last step that fails leaves the one before.
    const answers: Signature[] = [];
    steps.forEach((step, i) => {
      const where = stepWhere(node, i, step);
      if (step.condition !== undefined) {
        if (context.response === undefined) {
          this.fail(`${where}.condition`, "a Sequence tests a step's condition on the answer of the step before, and the first step has none");
        }
        answers.push(context.response);
      }
      const data = step.data === '$response' && context.response !== undefined ? { tensors: context.response } : input;
      const answer = build(i, data, context);
      if (step.dependency === 'Soft' && i === steps.length - 1 && context.response !== undefined) answers.push(context.response);
      context.response = answer;
      if (step.name !== undefined) context.earlier.set(step.name, { index: i, answer });
    });
    answers.push(context.response!);
    return union(answers, `spec.nodes.${node}`);
  }

  private ensemble(node: string, steps: InferenceStepFile[], input: Message, build: (i: number, data: Message, context: undefined) => Signature): Signature {
    // KServe answers {stepName: response}; as tensors, each step's outputs are named <step>.<output>.
    const answer: Signature = new Map();
    const from = new Map<string, string>();
    steps.forEach((step, i) => {
      const key = step.name ?? String(i);
      for (const [tensor, type] of build(i, input, undefined)) {
        const flat = `${key}.${tensor}`;
        if (answer.has(flat)) {
          this.fail(stepWhere(node, i, step), `tensor '${flat}' would be answered twice (also by ${from.get(flat)}); rename a step`);
        }
        answer.set(flat, type);
        from.set(flat, stepWhere(node, i, step));
      }
    });
    return answer;
  }

  private step(
    node: string,
    index: number,
    step: InferenceStepFile,
    data: Message,
    request: Message,
    context: SequenceContext | undefined,
  ): { plan: PlanStep; answer: Signature } {
    const where = stepWhere(node, index, step);
    const plan: PlanStep = {
      label: step.name ?? step.serviceName ?? step.nodeName ?? '',
      where: `graph '${this.graph}' ${where}`,
      key: step.name ?? String(index),
      target: { kind: 'node', node: '' },
      data: step.data === '$response' && index > 0 ? 'response' : 'request',
      dependency: step.dependency ?? 'Hard',
      ...(step.weight !== undefined && { weight: step.weight }),
    };
    const timeoutMs = step.timeout === undefined ? this.stepTimeoutMs : step.timeout * 1000;
    if (timeoutMs !== undefined) plan.timeoutMs = timeoutMs;
    if (step.condition !== undefined) {
      try {
        plan.condition = { text: step.condition, path: parseGjson(step.condition) };
      } catch (error) {
        if (error instanceof GjsonSyntaxError) this.fail(`${where}.condition`, error.message);
        throw error;
      }
    }
    const scope = { data, request, context, where };
    if (step.nodeName !== undefined) {
      plan.target = { kind: 'node', node: step.nodeName };
      let childInput = data;
      if (step.inputMap !== undefined) {
        const tensors: Signature = new Map();
        plan.inputs = Object.entries(step.inputMap).map(([name, ref]) => {
          const { source, type } = this.source(ref, undefined, scope, `inputMap.${name}`);
          tensors.set(name, type);
          return { name, source };
        });
        childInput = { tensors };
      }
      return { plan, answer: this.visit(step.nodeName, childInput) };
    }
    let config: ModelConfig;
    let target: StepTarget;
    const handler = step.serviceName === undefined ? undefined : this.jsonHandler(step.serviceName, `${where}.serviceName`);
    if (handler !== undefined) {
      target = { kind: 'handler', model: step.serviceName!, fields: handler.fields };
      config = handler.config;
      this.dependencies.add(step.serviceName!);
    } else if (step.serviceName !== undefined) {
      target = { kind: 'model', model: step.serviceName };
      config = this.local(step.serviceName, `${where}.serviceName`);
      this.dependencies.add(step.serviceName);
    } else {
      const endpoint = parseRemoteUrl(step.serviceUrl!, `graph '${this.graph}': ${where}.serviceUrl`);
      target = { kind: 'remote', ...endpoint };
      config = this.remote(endpoint.url, `${where}.serviceUrl`);
      if (plan.label === '') plan.label = endpoint.model;
    }
    plan.target = target;
    this.batchLimits.push(config.maxBatchSize);
    plan.inputs = this.bindInputs(config, step.inputMap, scope, target.kind === 'handler');
    return { plan, answer: signatureOf(config, 'outputs') };
  }

  private local(model: string, where: string): ModelConfig {
    try {
      return this.catalog.model(model, undefined);
    } catch (error) {
      throw prefixed(error, `graph '${this.graph}': ${where}`);
    }
  }

  private jsonHandler(model: string, where: string): { config: ModelConfig; fields: JsonStepFields } | undefined {
    try {
      return this.catalog.jsonHandler?.(model);
    } catch (error) {
      throw prefixed(error, `graph '${this.graph}': ${where}`);
    }
  }

  private remote(url: string, where: string): ModelConfig {
    try {
      return this.catalog.remote(url);
    } catch (error) {
      throw prefixed(error, `graph '${this.graph}': ${where}`);
    }
  }

  /** Where each input of the target comes from: inputMap, the same name in the data, or the data's only tensor. */
  private bindInputs(
    config: ModelConfig,
    inputMap: Record<string, string> | undefined,
    scope: { data: Message; request: Message; context: SequenceContext | undefined; where: string },
    json = false,
  ): Array<{ name: string; source: TensorSource }> {
    const wanted = signatureOf(config, 'inputs');
    // A JSON field takes any tensor whose values it can hold: a number field any numeric datatype.
    const check = (given: TensorType, type: TensorType, where: string, what: string) => this.check(json ? jsonFieldType(given, type) : given, type, where, what);
    for (const name of Object.keys(inputMap ?? {})) {
      if (!wanted.has(name)) this.fail(`${scope.where}.inputMap.${name}`, `model '${config.name}' has no input '${name}' (inputs: ${names(wanted)})`);
    }
    return [...wanted].map(([name, type]) => {
      const ref = inputMap?.[name];
      if (ref !== undefined) {
        const { source, type: given } = this.source(ref, type, scope, `inputMap.${name}`);
        check(given, type, `${scope.where}.inputMap.${name}`, `'${ref}' feeds input '${name}' of model '${config.name}'`);
        return { name, source };
      }
      const data = scope.data;
      const given = data.tensors.get(name);
      if (given !== undefined || data.open !== undefined) {
        check(given ?? this.openInput(data, name, type, scope.where), type, scope.where, `tensor '${name}' feeds input '${name}' of model '${config.name}'`);
        return { name, source: { from: 'data', tensor: name } };
      }
      // kserve#3051: one tensor in, one input wanted: the names need not agree.
      if (data.tensors.size === 1 && wanted.size === 1) {
        const [only, onlyType] = [...data.tensors][0]!;
        check(onlyType, type, scope.where, `tensor '${only}' (the only one it receives) feeds input '${name}' of model '${config.name}'`);
        return { name, source: { from: 'data' } };
      }
      return this.fail(
        `${scope.where}.inputMap`,
        `input '${name}' of model '${config.name}' is not mapped: the step receives ${names(data.tensors)}; add inputMap: { ${name}: <tensor> }`,
      );
    });
  }

  /** Resolves an inputMap reference: `name`, `$request.name`, `$response.name` or `$steps.<step>.name`. */
  private source(
    ref: string,
    wanted: TensorType | undefined,
    scope: { data: Message; request: Message; context: SequenceContext | undefined; where: string },
    field: string,
  ): { source: TensorSource; type: TensorType } {
    const at = `${scope.where}.${field}`;
    const find = (message: Message, tensor: string, what: string): TensorType => {
      const type = message.tensors.get(tensor);
      if (type !== undefined) return type;
      if (message.open !== undefined) {
        if (wanted === undefined) this.fail(at, `'${ref}' would be a graph input of unknown type; map it onto a model input instead`);
        return this.openInput(message, tensor, wanted, at);
      }
      return this.fail(at, `'${ref}': ${what} has no tensor '${tensor}' (it has ${names(message.tensors)})`);
    };
    if (ref.startsWith('$request.')) {
      const tensor = ref.slice('$request.'.length);
      return { source: { from: 'request', tensor }, type: find(scope.request, tensor, "the node's input") };
    }
    if (ref.startsWith('$response.')) {
      const tensor = ref.slice('$response.'.length);
      const response = scope.context?.response;
      if (response === undefined) this.fail(at, `'${ref}': there is no step before this one in a Sequence to answer`);
      return { source: { from: 'response', tensor }, type: find({ tensors: response }, tensor, 'the answer of the step before') };
    }
    if (ref.startsWith('$steps.')) {
      const rest = ref.slice('$steps.'.length);
      const earlier = [...(scope.context?.earlier ?? new Map<string, { index: number; answer: Signature }>())]
        .filter(([name]) => rest.startsWith(`${name}.`))
        .sort((a, b) => b[0].length - a[0].length)[0];
      if (earlier === undefined) {
        this.fail(at, `'${ref}' names no earlier step of this Sequence (earlier named steps: ${[...(scope.context?.earlier.keys() ?? [])].join(', ') || 'none'})`);
      }
      const tensor = rest.slice(earlier[0].length + 1);
      return { source: { from: 'step', step: earlier[1].index, tensor }, type: find({ tensors: earlier[1].answer }, tensor, `step '${earlier[0]}'`) };
    }
    if (ref.startsWith('$')) this.fail(at, `'${ref}': a reference starts with $request., $response. or $steps.<step>.`);
    return { source: { from: 'data', tensor: ref }, type: find(scope.data, ref, 'the step\'s data') };
  }

  /** A graph input, created the first time a step reads it; later readers must agree on its type. */
  private openInput(message: Message, name: string, wanted: TensorType, where: string): TensorType {
    const open = message.open!;
    const before = open.get(name);
    if (before === undefined) {
      open.set(name, wanted);
      return wanted;
    }
    if (before.datatype !== wanted.datatype || before.shape.length !== wanted.shape.length) {
      this.fail(where, `graph input '${name}' is read as ${describeType(before)} by one step and as ${describeType(wanted)} here`);
    }
    const narrowed = before.shape.map((d, i) => (d === -1 ? wanted.shape[i]! : d));
    if (narrowed.some((d, i) => wanted.shape[i] !== -1 && d !== wanted.shape[i])) {
      this.fail(where, `graph input '${name}' is read as ${describeType(before)} by one step and as ${describeType(wanted)} here`);
    }
    const merged = { datatype: before.datatype, shape: narrowed };
    open.set(name, merged);
    return merged;
  }

  private check(given: TensorType, wanted: TensorType, where: string, what: string): void {
    const problem = mismatch(given, wanted);
    if (problem !== undefined) this.fail(where, `${what}: ${problem}`);
  }
}

const INTEGERS = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);
const NUMBERS = new Set([...INTEGERS, 'FP16', 'FP32', 'FP64', 'BF16']);

/** The type a tensor counts as when it feeds a JSON handler's field: any number for FP64, any integer for INT64. */
function jsonFieldType(given: TensorType, wanted: TensorType): TensorType {
  const fits = (wanted.datatype === 'FP64' && NUMBERS.has(given.datatype)) || (wanted.datatype === 'INT64' && INTEGERS.has(given.datatype));
  return fits ? { ...given, datatype: wanted.datatype } : given;
}

function stepWhere(node: string, index: number, step: InferenceStepFile): string {
  return `spec.nodes.${node}.steps[${index}]${step.name !== undefined ? ` (${step.name})` : ''}`;
}

/** Keeps a step's error code (a step that is not READY makes the graph UNAVAILABLE) and says where. */
function prefixed(error: unknown, where: string): Error {
  if (error instanceof ServingError) return new ServingError(error.code, `${where}: ${error.message}`, { cause: error });
  return error as Error;
}

/**
 * Gives every step a label unique in the graph (its name, else its target's), usable as a metrics
 * label and a Server-Timing metric name.
 */
export function assignLabels(nodes: readonly PlanNode[]): void {
  const token = (s: string): string => s.replace(/[^A-Za-z0-9!#$%&'*+\-.^_`|~]/g, '_') || 'step';
  const all = nodes.flatMap((node) => node.steps.map((step, index) => ({ node: node.name, dag: node.kind === 'Dag', index, step, base: token(step.label) })));
  const count = new Map<string, number>();
  for (const { base } of all) count.set(base, (count.get(base) ?? 0) + 1);
  const used = new Set<string>();
  for (const entry of all) {
    // Twice the same model in an ensemble: simple.0, simple.1; the same step name in two nodes: root.x, other.x.
    let label = count.get(entry.base) === 1 ? entry.base : token(entry.dag ? `${entry.base}.${entry.index}` : `${entry.node}.${entry.base}`);
    if (used.has(label)) label = token(`${entry.node}.${entry.base}.${entry.index}`);
    used.add(label);
    entry.step.label = label;
  }
}
