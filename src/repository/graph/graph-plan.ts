import type { ModelConfig } from '../../config/model-config.js';
import type { Datatype } from '../../tensor/datatypes.js';
import type { GjsonPath } from './gjson.js';
import type { JsonStepFields } from './json-handler-step.js';

/**
 * A graph after load-time validation: one internal form for both declarations (Triton's ensemble
 * becomes a `Dag` node, KServe's InferenceGraph its Sequence/Switch/Ensemble/Splitter nodes). The
 * router's executor runs it; nothing here is looked up or parsed again per request.
 */
export interface GraphPlan {
  graph: string;
  /** The node a request enters (`root` for KServe's form; the ensemble itself for Triton's). */
  root: string;
  nodes: ReadonlyMap<string, PlanNode>;
  /** The graph's own signature, as a model's (inputs/outputs derived from the steps). */
  config: ModelConfig;
  /** Models (and graphs) of this repository the graph calls: loading or unloading one re-validates it. */
  dependencies: readonly string[];
}

/** A tensor's datatype and full shape (batch dimension included; -1 = any size) where it flows. */
export interface TensorType {
  datatype: Datatype;
  shape: number[];
}

/** What a step sends to, and who answers. */
export type StepTarget =
  /** A model (or another graph) of this repository, through the router; `version` undefined = the newest READY one. */
  | { kind: 'model'; model: string; version?: string }
  /** Another node of the same graph. */
  | { kind: 'node'; node: string }
  /** An OIP REST endpoint (`…/v2/models/{m}[/versions/{v}]/infer`) of another server. */
  | { kind: 'remote'; url: string; baseUrl: string; model: string; version?: string }
  /** A JSON handler of this repository (defineHandler, no graph of its own): tensors become its request's fields and its response's fields tensors. */
  | { kind: 'handler'; model: string; fields: JsonStepFields };

/** Where one input of a step comes from. */
export type TensorSource =
  /** The step's data message (`data: $request` or `$response`); no tensor name: its only tensor, whatever its name. */
  | { from: 'data'; tensor?: string }
  /** The node's input (`$request.name`). */
  | { from: 'request'; tensor: string }
  /** The answer of the step before, in a Sequence (`$response.name`). */
  | { from: 'response'; tensor: string }
  /** The answer of an earlier step of the same Sequence (`$steps.<step>.name`), by index. */
  | { from: 'step'; step: number; tensor: string }
  /** Triton: an ensemble tensor (a graph input or an earlier step's output_map). */
  | { from: 'ensemble'; tensor: string };

export interface PlanStep {
  /** Unique in the graph: the `step` label of metrics and logs, and `step.<label>` in Server-Timing. */
  label: string;
  /** Where the step is declared, for messages (`spec.nodes.root.steps[1] (classify)`). */
  where: string;
  /** KServe: the key of this step's answer in an Ensemble node's response (its name, or its index). */
  key: string;
  target: StepTarget;
  /** The message the step receives: the node's input, or the answer of the step before. */
  data: 'request' | 'response';
  /** The target's inputs and where each comes from; absent: the data message goes as it is. */
  inputs?: Array<{ name: string; source: TensorSource }>;
  /** Outputs to ask the target for (Triton: those in output_map); absent: all of them. */
  outputs?: string[];
  /** Triton: the target's output name → the ensemble tensor it becomes. */
  outputMap?: Array<{ output: string; tensor: string }>;
  /** KServe: Switch picks the first step whose condition holds; Sequence stops at one that fails. */
  condition?: { text: string; path: GjsonPath };
  /** Splitter: share of requests, in percent (the node's weights sum to 100). */
  weight?: number;
  /** Hard: a failure fails the request; Soft: it is skipped (see the executor). */
  dependency: 'Hard' | 'Soft';
  /** The step must answer within this time; undefined = only the request's own deadline. */
  timeoutMs?: number;
}

export type PlanNode =
  | { kind: 'Sequence' | 'Switch' | 'Ensemble' | 'Splitter'; name: string; steps: PlanStep[] }
  | {
      /** Triton's ensemble: each step runs once all the ensemble tensors it reads exist. */
      kind: 'Dag';
      name: string;
      steps: PlanStep[];
      /** For each step, the steps whose outputs it reads. */
      after: number[][];
      /** The graph's outputs: output name → ensemble tensor. */
      outputs: Array<{ name: string; tensor: string }>;
    };
