import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { INFERENCE_GRAPH_FILE, loadInferenceGraphFile, type InferenceGraphFile } from '../config/inference-graph-config.js';
import { loadModelConfigFile } from '../config/load-model-config.js';
import type { ModelConfig, ModelConfigFile } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ModelStats } from '../scheduler/model-stats.js';
import type { VersionScheduler } from '../scheduler/version-scheduler.js';
import type { ModelSource } from './discover.js';
import type { GraphPlan } from './graph/graph-plan.js';
import { planEnsemble } from './graph/plan-ensemble.js';
import { planInferenceGraph } from './graph/plan-inference-graph.js';
import { jsonHandlerStep } from './graph/json-handler-step.js';
import { parseRemoteUrl, type RemoteEndpoint, type StepCatalog } from './graph/step-catalog.js';
import type { Model, ModelVersion } from './model-repository.js';

/** A graph as declared in its folder, kept so the graph can be validated again when its steps change. */
export type GraphDeclaration = (
  | { form: 'ensemble'; file: ModelConfigFile }
  | { form: 'inference_graph'; file: InferenceGraphFile; modelFile: ModelConfigFile }
) & {
  /** Local models the declaration names (for load order and cycles between graphs). */
  uses: string[];
  /** Remote steps' signatures (or why they could not be fetched), by URL. */
  remote: Map<string, ModelConfig | Error>;
};

/** A graph version's executor: a scheduler the router runs, given a new plan when the graph is validated again. */
export interface GraphScheduler extends VersionScheduler {
  update(plan: GraphPlan): void;
}

/** What running graphs takes from the layer above (the router), injected so the repository imports none of it. */
export interface GraphRuntime {
  /** The config a request for (model, version?) would be served with, as the router resolves it; throws why not. */
  stepConfig(model: string, version: string | undefined): ModelConfig;
  /** A remote step's model signature, from its server's metadata endpoint. */
  remoteConfig(endpoint: RemoteEndpoint): Promise<ModelConfig>;
  /** The executor for one graph version. */
  scheduler(plan: GraphPlan, stats: ModelStats): GraphScheduler;
}

/** Whether a model folder holds a graph: `platform: ensemble` in config.yaml, or an inference-graph.yaml. */
export async function readGraphDeclaration(source: ModelSource, file: ModelConfigFile): Promise<GraphDeclaration | undefined> {
  if (source.kind !== 'folder') return undefined;
  const graphFile = join(source.dir, INFERENCE_GRAPH_FILE);
  const hasGraphFile = await access(graphFile).then(
    () => true,
    () => false,
  );
  if (file.platform === 'ensemble') {
    if (hasGraphFile) throw new ServingError('CONFIG_INVALID', `${source.dir} declares two graphs: config.yaml says platform: ensemble and ${INFERENCE_GRAPH_FILE} exists; keep one`);
    return { form: 'ensemble', file, uses: (file.ensemble_scheduling?.step ?? []).map((s) => s.model_name), remote: new Map() };
  }
  if (file.ensemble_scheduling !== undefined) {
    throw new ServingError('CONFIG_INVALID', 'config.yaml: ensemble_scheduling needs platform: ensemble');
  }
  if (!hasGraphFile) return undefined;
  const derived = (['platform', 'max_batch_size', 'input', 'output', 'instance_group', 'default_model_filename'] as const).filter((k) => file[k] !== undefined);
  if (derived.length > 0) {
    throw new ServingError('CONFIG_INVALID', `config.yaml beside ${INFERENCE_GRAPH_FILE}: ${derived.join(', ')} cannot be set: a graph's signature comes from its steps, which run on their own instances`);
  }
  const graph = await loadInferenceGraphFile(graphFile);
  const steps = Object.values(graph.spec.nodes).flatMap((node) => node.steps ?? []);
  return {
    form: 'inference_graph',
    file: graph,
    modelFile: file,
    uses: steps.flatMap((s) => (s.serviceName === undefined ? [] : [s.serviceName])),
    remote: new Map(),
  };
}

/** Whether a folder holds a graph (cheap: read before anything loads, to load graphs after the models they call). */
export async function isGraphFolder(source: ModelSource): Promise<boolean> {
  if (source.kind !== 'folder') return false;
  try {
    return (await readGraphDeclaration(source, await loadModelConfigFile(join(source.dir, 'config.yaml')))) !== undefined;
  } catch {
    // A broken declaration still loads with the graphs, so its error is reported there.
    return true;
  }
}

/** Version folders of a graph (Triton's ensembles have an empty `1/`), or version 1 when it has none. */
export async function graphVersions(dir: string): Promise<number[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const versions = entries.filter((e) => (e.isDirectory() || e.isSymbolicLink()) && /^[1-9][0-9]*$/.test(e.name)).map((e) => Number(e.name));
  return versions.length > 0 ? versions.sort((a, b) => a - b) : [1];
}

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

/**
 * The graphs of a repository: each is validated against the models its steps call when it loads,
 * and again whenever one of them loads, reloads or unloads, so a graph is READY exactly while its
 * steps are (and UNAVAILABLE with the step's reason otherwise). Remote steps' signatures are
 * fetched when the graph loads; while a remote server cannot be reached, the graph is UNAVAILABLE
 * and the fetch is retried with backoff.
 */
export class RepositoryGraphs {
  private readonly schedulers = new Map<ModelVersion, GraphScheduler>();
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();
  private closed = false;

  constructor(
    private readonly models: () => Iterable<Model>,
    private readonly runtime: () => GraphRuntime | undefined,
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
  ) {}

  /** Creates the graph's versions (LOADING) and, unless told to wait for `refresh`, validates them (fetching remote signatures first). */
  async load(model: Model, declaration: GraphDeclaration, versions: readonly number[], validate: boolean): Promise<void> {
    model.graph = declaration;
    for (const version of versions) {
      model.versions.set(version, { model: model.name, version, modelPath: model.source.kind === 'folder' ? model.source.dir : model.source.file, state: 'LOADING' });
    }
    await this.fetchRemotes(model);
    if (validate) this.plan(model);
  }

  /** Validates every graph again against the repository as it is now (after a model loaded, reloaded or unloaded). */
  refresh(): void {
    const graphs = [...this.models()].filter((m) => m.graph !== undefined);
    const versions = graphs.flatMap((m) => [...m.versions.values()].map((v) => [m, v] as const));
    const state = (v: ModelVersion) => `${v.state}:${v.reason ?? ''}`;
    const before = new Map(versions.map(([, v]) => [v, state(v)]));
    // A graph may call another graph: repeat until nothing changes (at most once per graph), and
    // log only where each graph ends up, not the passes on the way.
    for (let pass = 0; pass <= graphs.length; pass++) {
      const start = versions.map(([, v]) => state(v)).join('|');
      for (const model of graphs) this.plan(model, false);
      if (versions.map(([, v]) => state(v)).join('|') === start) break;
    }
    for (const [model, version] of versions) if (state(version) !== before.get(version)) this.logState(model, version);
  }

  /** Stops a graph's versions: new requests are refused, running ones finish (their steps drain with their models). */
  unload(model: Model): void {
    this.stopRetry(model.name);
    for (const version of model.versions.values()) {
      const scheduler = this.schedulers.get(version);
      if (scheduler === undefined) continue;
      scheduler.close();
      this.schedulers.delete(version);
      version.scheduler = undefined;
      version.state = 'UNAVAILABLE';
      version.reason = 'unloaded';
    }
  }

  close(): void {
    this.closed = true;
    for (const name of [...this.retries.keys()]) this.stopRetry(name);
  }

  private plan(model: Model, log = true): void {
    const declaration = model.graph;
    if (declaration === undefined) return;
    for (const version of model.versions.values()) {
      if (version.reason === 'unloaded') continue;
      const was = `${version.state}:${version.reason ?? ''}`;
      try {
        const plan = this.planGraph(model, declaration);
        version.config = plan.config;
        version.graph = plan;
        let scheduler = this.schedulers.get(version);
        if (scheduler === undefined) {
          const stats = new ModelStats(model.name, String(version.version), this.metrics?.forModel(model.name, String(version.version)));
          scheduler = this.runtime()!.scheduler(plan, stats);
          this.schedulers.set(version, scheduler);
          version.scheduler = scheduler;
        } else {
          scheduler.update(plan);
        }
        version.state = 'READY';
        version.reason = undefined;
        version.loadMs ??= 0;
      } catch (error) {
        version.state = 'UNAVAILABLE';
        version.reason = (error as Error).message;
      }
      if (log && was !== `${version.state}:${version.reason ?? ''}`) this.logState(model, version);
    }
  }

  private logState(model: Model, version: ModelVersion): void {
    if (version.state === 'READY') {
      const steps = [...(version.graph?.nodes.values() ?? [])].reduce((sum, node) => sum + node.steps.length, 0);
      this.logger.info({ event: 'model_loaded', model: model.name, version: version.version, graph: model.graph?.form, steps }, `graph ${model.name} version ${version.version} is READY`);
    } else {
      this.logger.error({ event: 'model_unavailable', model: model.name, version: version.version, reason: version.reason }, `graph '${model.name}' version ${version.version} is unavailable: ${version.reason}`);
    }
  }

  private planGraph(model: Model, declaration: GraphDeclaration): GraphPlan {
    const runtime = this.runtime();
    if (runtime === undefined) throw new ServingError('MODEL_NOT_READY', 'this repository has no router to run graphs through');
    const cycle = this.cycleFrom(model.name);
    if (cycle !== undefined) throw new ServingError('CONFIG_INVALID', `graph '${model.name}': its steps call back into it: ${cycle.join(' → ')}`);
    const catalog: StepCatalog = {
      model: (name, stepVersion) => {
        if (name === model.name) throw new ServingError('CONFIG_INVALID', `graph '${model.name}' cannot call itself`);
        try {
          return runtime.stepConfig(name, stepVersion);
        } catch (error) {
          // An unknown model or version is a mistake in the graph; a step that is not READY makes it UNAVAILABLE.
          if (error instanceof ServingError && (error.code === 'MODEL_NOT_FOUND' || error.code === 'VERSION_NOT_FOUND')) {
            throw new ServingError('CONFIG_INVALID', error.message);
          }
          throw error;
        }
      },
      jsonHandler: (name) => {
        const step = this.byName().get(name);
        const description = step?.handler?.state === 'READY' ? step.handler.pool?.description : undefined;
        // A JSON handler without a graph of its own; a tensor handler is served as a model, and a handler around a graph leaves the step to its graph.
        if (step === undefined || step.versions.size > 0 || description === undefined || description.mode !== 'predict') return undefined;
        return jsonHandlerStep(name, description);
      },
      remote: (url) => {
        const known = declaration.remote.get(url);
        if (known === undefined) throw new ServingError('MODEL_NOT_READY', `the signature of ${url} has not been fetched`);
        if (known instanceof Error) throw known;
        return known;
      },
    };
    return declaration.form === 'ensemble'
      ? planEnsemble(model.name, declaration.file, catalog)
      : planInferenceGraph(model.name, declaration.file, declaration.modelFile, catalog);
  }

  private byName(): Map<string, Model> {
    return new Map([...this.models()].map((m) => [m.name, m]));
  }

  /** A path of graph calls from `name` back to itself, if its steps (or theirs) call it. */
  private cycleFrom(name: string): string[] | undefined {
    const byName = new Map([...this.models()].map((m) => [m.name, m]));
    const walk = (current: string, path: string[]): string[] | undefined => {
      for (const next of byName.get(current)?.graph?.uses ?? []) {
        if (next === name) return [...path, next];
        if (path.includes(next)) continue;
        const found = walk(next, [...path, next]);
        if (found !== undefined) return found;
      }
      return undefined;
    };
    return walk(name, [name]);
  }

  /** Fetches the signature of each remote step; one that cannot be reached is retried with backoff. */
  private async fetchRemotes(model: Model): Promise<void> {
    const declaration = model.graph!;
    const runtime = this.runtime();
    if (declaration.form !== 'inference_graph' || runtime === undefined) return;
    const urls = Object.values(declaration.file.spec.nodes).flatMap((node) => (node.steps ?? []).flatMap((s) => (s.serviceUrl === undefined ? [] : [s.serviceUrl])));
    let failed = false;
    await Promise.all(
      [...new Set(urls)].map(async (url) => {
        let endpoint: RemoteEndpoint;
        try {
          endpoint = parseRemoteUrl(url, `graph '${model.name}': serviceUrl`);
        } catch (error) {
          declaration.remote.set(url, error as Error);
          return;
        }
        try {
          declaration.remote.set(url, await runtime.remoteConfig(endpoint));
        } catch (error) {
          failed = true;
          const retry = this.retries.get(model.name);
          const delayMs = retry?.delayMs ?? RETRY_FIRST_MS;
          declaration.remote.set(
            url,
            new ServingError('MODEL_NOT_READY', `cannot read the metadata of remote model '${endpoint.model}' at ${endpoint.baseUrl}: ${(error as Error).message}; retrying in ${Math.round(delayMs / 1000)} s`),
          );
        }
      }),
    );
    if (failed) this.scheduleRetry(model);
    else this.stopRetry(model.name);
  }

  private scheduleRetry(model: Model): void {
    if (this.closed) return;
    const previous = this.retries.get(model.name);
    const delayMs = previous?.delayMs ?? RETRY_FIRST_MS;
    if (previous !== undefined) clearTimeout(previous.timer);
    const timer = setTimeout(() => {
      void this.fetchRemotes(model).then(() => {
        if (model.graph !== undefined) this.refresh();
      });
    }, delayMs);
    timer.unref();
    this.retries.set(model.name, { timer, delayMs: Math.min(delayMs * 2, RETRY_MAX_MS) });
  }

  private stopRetry(name: string): void {
    const retry = this.retries.get(name);
    if (retry !== undefined) clearTimeout(retry.timer);
    this.retries.delete(name);
  }
}
