import { fullShape, type ModelConfig, type ModelConfigFile } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import { graphModelConfig } from './graph-model-config.js';
import type { GraphPlan, PlanStep, TensorType } from './graph-plan.js';
import { assignLabels } from './plan-inference-graph.js';
import type { StepCatalog } from './step-catalog.js';
import { invalidGraph, mismatch, names, signatureOf, type Signature } from './tensor-types.js';

/**
 * Validates a Triton ensemble (`platform: ensemble` with `ensemble_scheduling.step[]`) against its
 * steps' models and turns it into a plan: a DAG of steps over named ensemble tensors, each step
 * running as soon as the tensors it reads exist. As in Triton, the ensemble declares its own inputs
 * and outputs; every step input must be mapped, every ensemble tensor written once, and every
 * output produced. Errors name the graph, the step and the field (`ensemble_scheduling.step[1]
 * (model 'b').input_map.x`).
 *
 * @example
 * const plan = planEnsemble('digits_ensemble', configFile, catalog);
 */
export function planEnsemble(name: string, file: ModelConfigFile, catalog: StepCatalog): GraphPlan {
  const fail = (where: string, message: string): never => {
    throw invalidGraph(`graph '${name}': ${where}: ${message}`);
  };
  const steps = file.ensemble_scheduling?.step;
  if (steps === undefined) return fail('ensemble_scheduling', 'an ensemble (platform: ensemble) lists its steps under ensemble_scheduling.step');
  const maxBatchSize = file.max_batch_size ?? 0;
  const declared = (side: 'input' | 'output'): Signature => {
    const specs = file[side];
    if (specs === undefined || specs.length === 0) fail(side, `an ensemble declares its ${side}s (name, data_type, dims), as Triton requires`);
    const out: Signature = new Map();
    specs!.forEach((spec, i) => {
      if (spec.data_type === undefined || spec.dims === undefined) fail(`${side}[${i}] (${spec.name})`, 'an ensemble tensor needs data_type and dims');
      if (out.has(spec.name)) fail(`${side}[${i}]`, `'${spec.name}' is declared twice`);
      out.set(spec.name, { datatype: spec.data_type!, shape: fullShape({ maxBatchSize }, { name: spec.name, datatype: spec.data_type!, dims: spec.dims! }) });
    });
    return out;
  };
  const inputs = declared('input');
  const outputs = declared('output');

  // Ensemble tensor → who writes it (an input of the ensemble, or a step's output_map).
  const producers = new Map<string, { step?: number; type: TensorType; where: string }>();
  for (const [tensor, type] of inputs) producers.set(tensor, { type, where: `ensemble input '${tensor}'` });
  const configs: ModelConfig[] = [];
  const plans: PlanStep[] = steps.map((step, i) => {
    const where = `ensemble_scheduling.step[${i}] (model '${step.model_name}')`;
    const version = step.model_version === undefined || step.model_version === -1 ? undefined : String(step.model_version);
    let config: ModelConfig;
    try {
      config = catalog.model(step.model_name, version);
    } catch (error) {
      if (error instanceof ServingError) throw new ServingError(error.code, `graph '${name}': ${where}.model_name: ${error.message}`, { cause: error });
      throw error;
    }
    configs.push(config);
    if (maxBatchSize > 0 && (config.maxBatchSize === 0 || config.maxBatchSize < maxBatchSize)) {
      fail(
        `${where}.model_name`,
        config.maxBatchSize === 0
          ? `the ensemble batches (max_batch_size ${maxBatchSize}) but model '${config.name}' does not`
          : `the ensemble's max_batch_size ${maxBatchSize} exceeds model '${config.name}''s ${config.maxBatchSize}`,
      );
    }
    const modelOutputs = signatureOf(config, 'outputs');
    const outputMap = Object.entries(step.output_map ?? {});
    if (outputMap.length === 0) fail(`${where}.output_map`, 'the step maps none of its outputs, so nothing reads what it computes');
    for (const [output, tensor] of outputMap) {
      const type = modelOutputs.get(output);
      if (type === undefined) fail(`${where}.output_map.${output}`, `model '${config.name}' has no output '${output}' (outputs: ${names(modelOutputs)})`);
      const before = producers.get(tensor);
      if (before !== undefined) fail(`${where}.output_map.${output}`, `ensemble tensor '${tensor}' is already written by ${before.where}; each is written once`);
      producers.set(tensor, { step: i, type: type!, where: `${where}.output_map.${output}` });
    }
    return {
      label: step.model_name,
      where: `graph '${name}' ${where}`,
      key: String(i),
      target: { kind: 'model', model: step.model_name, ...(version !== undefined && { version }) },
      data: 'request',
      outputs: outputMap.map(([output]) => output),
      outputMap: outputMap.map(([output, tensor]) => ({ output, tensor })),
      dependency: 'Hard',
      ...(step.timeout_microseconds !== undefined && { timeoutMs: step.timeout_microseconds / 1000 }),
    };
  });

  const after: number[][] = steps.map((step, i) => {
    const where = `ensemble_scheduling.step[${i}] (model '${step.model_name}')`;
    const wanted = signatureOf(configs[i]!, 'inputs');
    const inputMap = step.input_map ?? {};
    for (const input of Object.keys(inputMap)) {
      if (!wanted.has(input)) fail(`${where}.input_map.${input}`, `model '${step.model_name}' has no input '${input}' (inputs: ${names(wanted)})`);
    }
    const reads = new Set<number>();
    plans[i]!.inputs = [...wanted].map(([input, type]) => {
      const tensor = inputMap[input];
      if (tensor === undefined) fail(`${where}.input_map`, `input '${input}' of model '${step.model_name}' is not mapped to an ensemble tensor`);
      const producer = producers.get(tensor!);
      if (producer === undefined) {
        fail(`${where}.input_map.${input}`, `ensemble tensor '${tensor}' is neither an ensemble input nor written by any step's output_map`);
      }
      const problem = mismatch(producer!.type, type);
      if (problem !== undefined) fail(`${where}.input_map.${input}`, `'${tensor}' from ${producer!.where}: ${problem}`);
      if (producer!.step !== undefined) reads.add(producer!.step);
      return { name: input, source: { from: 'ensemble', tensor: tensor! } };
    });
    return [...reads];
  });

  const graphOutputs = [...outputs].map(([output, type]) => {
    const producer = producers.get(output);
    if (producer === undefined || producer.step === undefined) {
      fail(`output (${output})`, producer === undefined ? `no step's output_map writes ensemble output '${output}'` : `ensemble output '${output}' is an ensemble input; map a step's output to it`);
    }
    const problem = mismatch(producer!.type, type);
    if (problem !== undefined) fail(`output (${output})`, `'${output}' from ${producer!.where}: ${problem}`);
    return { name: output, tensor: output };
  });

  checkAcyclic(name, steps.map((s) => s.model_name), after);
  // A step whose outputs reach no ensemble output is dead weight (and usually a typo in a map).
  const useful = new Set<number>();
  const mark = (step: number): void => {
    if (useful.has(step)) return;
    useful.add(step);
    for (const before of after[step]!) mark(before);
  };
  for (const { tensor } of graphOutputs) mark(producers.get(tensor)!.step!);
  steps.forEach((step, i) => {
    if (!useful.has(i)) fail(`ensemble_scheduling.step[${i}] (model '${step.model_name}')`, 'the step is unreachable: none of its outputs leads to an ensemble output');
  });

  const node = { kind: 'Dag' as const, name, steps: plans, after, outputs: graphOutputs };
  assignLabels([node]);
  return {
    graph: name,
    root: name,
    nodes: new Map([[name, node]]),
    config: graphModelConfig(name, 'ensemble', file, inputs, outputs, maxBatchSize),
    dependencies: [...new Set(steps.map((s) => s.model_name))],
  };
}

function checkAcyclic(graph: string, models: string[], after: number[][]): void {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (step: number, path: number[]): void => {
    if (state.get(step) === 'done') return;
    if (state.get(step) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(step)), step].map((s) => `step[${s}] (${models[s]})`);
      throw invalidGraph(`graph '${graph}': ensemble_scheduling: cycle: ${cycle.join(' → ')} (each reads a tensor the next one writes)`);
    }
    state.set(step, 'visiting');
    for (const before of after[step]!) visit(before, [...path, step]);
    state.set(step, 'done');
  };
  for (let i = 0; i < after.length; i++) visit(i, []);
}
