import { ServingError } from '../../errors/serving-error.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { gjsonExists } from '../../repository/graph/gjson.js';
import type { GraphPlan, PlanNode, PlanStep, TensorSource } from '../../repository/graph/graph-plan.js';
import type { GraphScheduler } from '../../repository/model-graph.js';
import type { ScheduleRequest } from '../../scheduler/model-scheduler.js';
import type { ModelStats } from '../../scheduler/model-stats.js';
import type { ScheduledResult, StepTiming } from '../../scheduler/version-scheduler.js';
import type { InferenceRequest, InferenceResponse } from '../../tensor/inference.js';
import type { Parameters, Tensor } from '../../tensor/tensor.js';
import { jsonStepBody, jsonStepOutputs } from './json-step-codec.js';
import { messageView, type Message } from './message-view.js';

/** How a graph reaches what its steps name. */
export interface GraphExecutorDeps {
  /** A local step: the router's `infer`, so batching, the cache and statistics apply to it. */
  infer(request: InferenceRequest): Promise<InferenceResponse>;
  /** A remote step: an OIP infer call to another server. */
  remote(
    step: PlanStep & { target: { kind: 'remote' } },
    inputs: Tensor[],
    options: { parameters: Parameters; timeoutMs: number | undefined; requestId?: string },
  ): Promise<Tensor[]>;
  /**
   * A JSON handler step: its request body in, its JSON answer out (the handler's `predict`, in its
   * workers). Absent: such steps fail (an executor in tests without handlers).
   */
  handler?(model: string, body: Uint8Array, options: { requestId?: string; routingKey?: string }): Promise<Uint8Array>;
  metrics?: Metrics;
  logger: Logger;
  /** [0, 1): picks a Splitter's route (a seeded one in tests). */
  random?: () => number;
}

/** What one step (or nested node) may read: the node's input, the step before's answer, earlier answers. */
interface Scope {
  request: Message;
  response?: Message;
  earlier?: Array<Message | undefined>;
  ensemble?: Map<string, Tensor>;
}

/**
 * Runs a graph's requests: the router hands it a validated request (as it would a model's
 * scheduler) and it walks the plan, calling local steps back through the router (tensors stay
 * typed arrays: nothing is serialised between local steps) and remote ones over OIP REST.
 *
 * Semantics follow KServe's router (cmd/router/main.go) and Triton's ensembles:
 * - Sequence: steps in order, each on the node's input or (`data: $response`) the step before's
 *   answer; a step whose condition does not hold on the answer so far ends the node with that
 *   answer.
 * - Switch: the first step whose condition holds on the node's input; none: GRAPH_NO_ROUTE (404),
 *   as KServe's router answers since 0.11.
 * - Ensemble: every step at once on the node's input; the answer holds each step's outputs as
 *   `<step>.<output>` (KServe's `{stepName: response}`).
 * - Splitter: one step, picked at random by weight.
 * - Dag (Triton): each step as soon as the ensemble tensors it reads exist.
 * A Hard step's failure fails the request, naming the step; a Soft one is skipped: a Sequence goes
 * on with the answer before it, an Ensemble answers without it.
 */
export class GraphExecutor implements GraphScheduler {
  private plan: GraphPlan;
  private running = 0;
  private closed = false;
  private readonly random: () => number;

  constructor(
    plan: GraphPlan,
    readonly stats: ModelStats,
    private readonly deps: GraphExecutorDeps,
  ) {
    this.plan = plan;
    this.random = deps.random ?? Math.random;
  }

  get queueDepth(): number {
    return 0;
  }

  get inflight(): number {
    return this.running;
  }

  update(plan: GraphPlan): void {
    this.plan = plan;
  }

  close(): void {
    this.closed = true;
  }

  async infer(request: ScheduleRequest): Promise<ScheduledResult> {
    if (this.closed) throw new ServingError('MODEL_NOT_READY', `graph '${this.plan.graph}' is unloading`);
    const run = new GraphRun(this.plan, request, this.deps, this.random, this.stats.version);
    this.running++;
    try {
      const answer = await run.node(this.plan.root, { tensors: request.inputs });
      const outputs = request.outputNames.flatMap((name) => answer.tensors.find((t) => t.name === name) ?? []);
      if (outputs.length === 0) {
        throw new ServingError(
          'INFERENCE_FAILED',
          `graph '${this.plan.graph}' answered ${answer.tensors.map((t) => `'${t.name}'`).join(', ') || 'nothing'}, none of the outputs asked for (${request.outputNames.join(', ')})`,
        );
      }
      const rows = this.plan.config.maxBatchSize > 0 ? (request.inputs[0]?.shape[0] ?? 1) : 1;
      return { outputs, queueNs: run.queueNs, computeInputNs: 0, computeInferNs: run.computeNs, computeOutputNs: 0, executedBatchSize: rows, steps: run.timings };
    } finally {
      this.running--;
    }
  }
}

/** One request's walk through the plan: its deadline, and the time each step took. */
class GraphRun {
  queueNs = 0;
  computeNs = 0;
  readonly timings: StepTiming[] = [];
  private readonly deadlineMs: number | undefined;
  private readonly parameters: Parameters;

  constructor(
    private readonly plan: GraphPlan,
    private readonly request: ScheduleRequest,
    private readonly deps: GraphExecutorDeps,
    private readonly random: () => number,
    private readonly version: string,
  ) {
    const { timeout, ...rest } = request.parameters ?? {};
    this.parameters = rest;
    const timeoutUs = typeof timeout === 'number' && timeout > 0 ? timeout : plan.config.scheduling.defaultTimeoutUs;
    this.deadlineMs = timeoutUs > 0 ? performance.now() + timeoutUs / 1000 : undefined;
  }

  /** Runs a node on its input message (what `$request` means inside it). */
  async node(name: string, input: Message): Promise<Message> {
    const node = this.plan.nodes.get(name)!;
    const inner: Scope = { request: input };
    switch (node.kind) {
      case 'Sequence':
        return this.sequence(node, inner);
      case 'Switch': {
        const view = messageView(input, this.request.parameters);
        const index = node.steps.findIndex((step) => gjsonExists(step.condition!.path, view));
        if (index < 0) {
          throw new ServingError('GRAPH_NO_ROUTE', `graph '${this.plan.graph}' node '${name}': none of the routes matched with the switch condition`);
        }
        return this.step(node.steps[index]!, input, inner);
      }
      case 'Splitter': {
        // KServe draws an integer in [0, 100) and walks the cumulative weights.
        const point = Math.floor(this.random() * 100);
        let end = 0;
        const step = node.steps.find((s) => point < (end += s.weight ?? 0)) ?? node.steps.at(-1)!;
        return this.step(step, input, inner);
      }
      case 'Ensemble':
        return this.ensemble(node, input, inner);
      case 'Dag':
        return this.dag(node, input, inner);
    }
  }

  private async sequence(node: PlanNode, scope: Scope): Promise<Message> {
    scope.earlier = [];
    let response: Message | undefined;
    for (const [i, step] of node.steps.entries()) {
      if (step.condition !== undefined && response !== undefined) {
        // As KServe: the condition is tested on the answer so far; when it fails, that is the answer.
        if (!gjsonExists(step.condition.path, messageView(response, this.request.parameters))) return response;
      }
      const data = step.data === 'response' && response !== undefined ? response : scope.request;
      try {
        response = await this.step(step, data, { ...scope, ...(response !== undefined && { response }) });
        scope.earlier[i] = response;
      } catch (error) {
        if (step.dependency !== 'Soft') throw error;
      }
    }
    if (response === undefined) {
      throw new ServingError('INFERENCE_FAILED', `graph '${this.plan.graph}' node '${node.name}': every step failed (all are Soft), so there is no answer`);
    }
    return response;
  }

  private async ensemble(node: PlanNode, input: Message, scope: Scope): Promise<Message> {
    const settled = await Promise.allSettled(node.steps.map((step) => this.step(step, input, scope)));
    const tensors: Tensor[] = [];
    const parts: Array<[string, Message]> = [];
    settled.forEach((result, i) => {
      const step = node.steps[i]!;
      if (result.status === 'rejected') {
        // The first Hard step that failed (in step order) decides the answer, as in KServe.
        if (step.dependency !== 'Soft') throw result.reason;
        return;
      }
      parts.push([step.key, result.value]);
      for (const t of result.value.tensors) tensors.push({ ...t, name: `${step.key}.${t.name}` });
    });
    return { tensors, parts };
  }

  private async dag(node: PlanNode & { kind: 'Dag' }, input: Message, scope: Scope): Promise<Message> {
    const ensemble = new Map(input.tensors.map((t) => [t.name, t] as const));
    const inner: Scope = { ...scope, ensemble };
    const started = new Map<number, Promise<void>>();
    const run = (i: number): Promise<void> => {
      let promise = started.get(i);
      if (promise === undefined) {
        const step = node.steps[i]!;
        promise = Promise.all(node.after[i]!.map(run)).then(async () => {
          const answer = await this.step(step, input, inner);
          for (const { output, tensor } of step.outputMap ?? []) {
            const produced = answer.tensors.find((t) => t.name === output);
            if (produced === undefined) throw new ServingError('INFERENCE_FAILED', `${step.where}: model '${targetName(step)}' did not answer output '${output}'`);
            ensemble.set(tensor, produced);
          }
        });
        started.set(i, promise);
      }
      return promise;
    };
    await Promise.all(node.steps.map((_, i) => run(i)));
    return { tensors: node.outputs.map(({ name, tensor }) => renamed(ensemble.get(tensor)!, name)) };
  }

  /** Runs one step on its data message and returns its answer; failures name the step. */
  private async step(step: PlanStep, data: Message, scope: Scope): Promise<Message> {
    const startedMs = performance.now();
    const timeoutMs = this.remainingMs(step, startedMs);
    let outcome = 'success';
    try {
      const inputs = step.inputs === undefined ? data.tensors : step.inputs.map(({ name, source }) => renamed(this.find(step, source, data, scope), name));
      const work = this.call(step, inputs, timeoutMs);
      return timeoutMs === undefined ? await work : await withDeadline(work, timeoutMs);
    } catch (error) {
      const failure = stepError(error, step);
      outcome = failure.code;
      const soft = step.dependency === 'Soft';
      this.deps.logger[soft ? 'warn' : 'info'](
        { event: 'graph_step_failed', model: this.plan.graph, step: step.label, code: failure.code, soft, ...(this.request.requestId !== undefined && { requestId: this.request.requestId }) },
        soft ? `${failure.message} (Soft: skipped)` : failure.message,
      );
      throw failure;
    } finally {
      const ns = (performance.now() - startedMs) * 1e6;
      this.timings.push({ label: step.label, ns, outcome: outcome === 'success' ? 'success' : 'error' });
      this.deps.metrics?.graphStep({ model: this.plan.graph, version: this.version, step: step.label, outcome, seconds: ns / 1e9 });
      if (this.deps.logger.isLevelEnabled('debug')) this.deps.logger.debug({ event: 'graph_step', model: this.plan.graph, step: step.label, ms: ns / 1e6, outcome }, 'graph step');
    }
  }

  private async call(step: PlanStep, inputs: Tensor[], timeoutMs: number | undefined): Promise<Message> {
    const target = step.target;
    switch (target.kind) {
      case 'node':
        return this.node(target.node, { tensors: inputs });
      case 'model': {
        const parameters: Parameters = { ...this.parameters };
        // The step's queue deadline too, so a step still queued when time is up never runs.
        if (timeoutMs !== undefined) parameters.timeout = Math.max(1, Math.floor(timeoutMs * 1000));
        const response = await this.deps.infer({
          model: target.model,
          ...(target.version !== undefined && { version: target.version }),
          inputs,
          ...(step.outputs !== undefined && { outputs: step.outputs.map((name) => ({ name })) }),
          parameters,
          // A sticky key keeps each step model on its version too, as it does the graph.
          ...(this.request.routingKey !== undefined && { routingKey: this.request.routingKey }),
          // The request id follows the request into every step (a handler step's ctx.requestId, the logs).
          ...(this.request.requestId !== undefined && { requestId: this.request.requestId }),
        });
        this.queueNs += response.timing?.queueNs ?? 0;
        this.computeNs += response.timing?.computeNs ?? 0;
        return { tensors: response.outputs };
      }
      case 'handler': {
        if (this.deps.handler === undefined) throw new ServingError('MODEL_NOT_READY', `no handlers can be reached from this graph's executor`);
        const body = jsonStepBody(target.fields, inputs, target.model);
        // The handler's own model calls follow the graph request's sticky key, else its request id.
        const routingKey = this.request.routingKey ?? this.request.requestId;
        const answer = await this.deps.handler(target.model, body, {
          ...(this.request.requestId !== undefined && { requestId: this.request.requestId }),
          ...(routingKey !== undefined && { routingKey }),
        });
        return { tensors: jsonStepOutputs(target.fields, answer, target.model) };
      }
      case 'remote':
        return {
          tensors: await this.deps.remote(step as PlanStep & { target: typeof target }, inputs, {
            parameters: this.parameters,
            timeoutMs,
            ...(this.request.requestId !== undefined && { requestId: this.request.requestId }),
          }),
        };
    }
  }

  /** The step's own timeout, cut to what is left of the request's. */
  private remainingMs(step: PlanStep, nowMs: number): number | undefined {
    const left = this.deadlineMs === undefined ? undefined : this.deadlineMs - nowMs;
    if (left !== undefined && left <= 0) {
      throw new ServingError('DEADLINE_EXCEEDED', `${step.where}: the request's timeout passed before the step started`);
    }
    if (step.timeoutMs === undefined) return left;
    return left === undefined ? step.timeoutMs : Math.min(left, step.timeoutMs);
  }

  private find(step: PlanStep, source: TensorSource, data: Message, scope: Scope): Tensor {
    let message: Message | undefined;
    let what: string;
    switch (source.from) {
      case 'data':
        message = data;
        what = "the step's data";
        if (source.tensor === undefined) {
          if (data.tensors.length !== 1) throw missing(step, `one tensor in the step's data, which has ${data.tensors.length}`);
          return data.tensors[0]!;
        }
        break;
      case 'request':
        message = scope.request;
        what = "the node's input";
        break;
      case 'response':
        message = scope.response;
        what = 'the answer of the step before';
        break;
      case 'step':
        message = scope.earlier?.[source.step];
        what = `the answer of step ${source.step}`;
        break;
      case 'ensemble': {
        const tensor = scope.ensemble?.get(source.tensor);
        if (tensor === undefined) throw missing(step, `ensemble tensor '${source.tensor}'`);
        return tensor;
      }
    }
    const tensor = message?.tensors.find((t) => t.name === source.tensor);
    // Possible at run time only: a Soft step before failed, or a Sequence answered early.
    if (tensor === undefined) throw missing(step, `tensor '${source.tensor}' in ${what} (it has ${message?.tensors.map((t) => `'${t.name}'`).join(', ') || 'nothing'})`);
    return tensor;
  }
}

function renamed(tensor: Tensor, name: string): Tensor {
  return tensor.name === name ? tensor : { ...tensor, name };
}

function targetName(step: PlanStep): string {
  return step.target.kind === 'node' ? step.target.node : step.target.model;
}

function missing(step: PlanStep, what: string): ServingError {
  return new ServingError('INFERENCE_FAILED', `${step.where}: expected ${what}`);
}

const NAMED = Symbol('graph step named');

/** The step's error with the step named once (nested nodes' steps name themselves). */
function stepError(error: unknown, step: PlanStep): ServingError {
  if (error instanceof ServingError && (error as ServingError & { [NAMED]?: true })[NAMED]) return error;
  const base = error instanceof ServingError ? error : new ServingError('INTERNAL', (error as Error).message ?? String(error), { cause: error });
  const named = new ServingError(base.code, `${step.where}${targetName(step) !== '' ? ` → ${targetName(step)}` : ''}: ${base.message}`, {
    cause: base,
    ...(base.retryAfterSeconds !== undefined && { retryAfterSeconds: base.retryAfterSeconds }),
  });
  (named as ServingError & { [NAMED]?: true })[NAMED] = true;
  return named;
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ServingError('DEADLINE_EXCEEDED', `did not answer within ${Math.round(ms * 1000) / 1000} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
