import { readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { loadModelConfigFile } from '../config/load-model-config.js';
import { DEFAULT_MAX_QUEUE_WAIT, toVersionPolicy, type ModelConfig, type ModelConfigFile } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { InstancePool } from '../scheduler/instance-pool.js';
import { allocateData } from '../tensor/datatypes.js';
import type { Tensor } from '../tensor/tensor.js';
import { ModelScheduler } from '../scheduler/model-scheduler.js';
import type { VersionScheduler } from '../scheduler/version-scheduler.js';
import { ModelStats } from '../scheduler/model-stats.js';
import { autocompleteConfig, defaultInstanceLayout, type AutocompleteDefaults } from './autocomplete.js';
import { discoverModels, isVersionDirName, type ModelSource } from './discover.js';
import type { ModelState } from './model-state.js';
import { selectVersions } from './version-policy.js';
import { findHandlerFile, newModelHandler, startModelHandler, unloadModelHandler, type ModelHandler } from './model-handler.js';
import { TensorHandlerScheduler } from '../scheduler/tensor-handler-scheduler.js';
import { signatureConfig } from './graph/graph-model-config.js';
import type { HandlerInfer } from '../runtime/handler/handler-instance.js';
import type { GraphPlan } from './graph/graph-plan.js';
import { graphVersions, isGraphFolder, readGraphDeclaration, RepositoryGraphs, type GraphDeclaration, type GraphRuntime } from './model-graph.js';

export type { ModelState } from './model-state.js';

/** One version of one model: its state and, once READY, its merged config and running instances. */
export interface ModelVersion {
  readonly model: string;
  readonly version: number;
  readonly modelPath: string;
  state: ModelState;
  reason?: string;
  config?: ModelConfig;
  pool?: InstancePool;
  /** The model's dynamic batcher and instances, or a graph's executor. */
  scheduler?: VersionScheduler;
  /** A graph's validated plan (its steps and how tensors flow between them). */
  graph?: GraphPlan;
  /** How long the last load took (instances started, config resolved). */
  loadMs?: number;
  /** The model file's identity when it was loaded (size, mtime, inode): a reload skips versions whose file has not changed. */
  fingerprint?: string;
}

export interface Model {
  readonly name: string;
  readonly source: ModelSource;
  /** Versions the policy selected, by number. */
  readonly versions: Map<number, ModelVersion>;
  /** Why the model as a whole could not load (bad config, no version matched the policy). */
  reason?: string;
  /** The folder's handler.ts, if it has one (a pipeline has a handler and no versions). */
  handler?: ModelHandler;
  /** The graph the folder declares (Triton ensemble or KServe InferenceGraph), if it is one. */
  graph?: GraphDeclaration;
  /** The config.yaml it was loaded with (empty for a single .onnx file). */
  configFile?: ModelConfigFile;
}

/** One row of Triton's repository index. */
export interface RepositoryIndexEntry {
  name: string;
  version?: string;
  state: ModelState;
  reason: string;
}

export interface ModelRepositoryOptions {
  /** Repository folders, model folders or .onnx files (as given to `slipway serve`). */
  paths: readonly string[];
  logger?: Logger;
  /** Cores to plan instance layouts for; defaults to the machine's. */
  cores?: number;
  /** max_batch_size given to graphs that can batch when their config is silent (Triton's default-max-batch-size). */
  defaultMaxBatchSize?: number;
  /** max_queue_wait_microseconds for models whose config does not say (default DEFAULT_MAX_QUEUE_WAIT: auto). */
  defaultMaxQueueWaitUs?: number | 'auto';
  /** Prometheus metrics to feed (per model version), when on. */
  metrics?: Metrics;
  /** Serve the one model the paths hold under this name (KServe names the model after its InferenceService). */
  modelName?: string;
  /** Gives handlers the router's infer (called once, before the first handler loads) so `ctx.infer` reaches every model. */
  connectHandlers?: (repository: ModelRepository) => HandlerInfer;
  /** Gives graphs the router (called once, before the first graph loads): their steps run through it. */
  connectGraphs?: (repository: ModelRepository) => GraphRuntime;
  /** The longest a batch may block the event loop for `instance_group.placement: auto` to run a model inline (default INLINE_BUDGET_US). */
  inlineBudgetUs?: number;
}

function renamed(sources: ModelSource[], name: string | undefined): ModelSource[] {
  if (name === undefined) return sources;
  if (sources.length !== 1) {
    throw new ServingError('CONFIG_INVALID', `--model-name ${name} names one model, but the paths hold ${sources.length}: ${sources.map((s) => s.name).join(', ')}`);
  }
  return [{ ...sources[0]!, name }];
}

/**
 * The models Slipway serves and their lifecycle. A model that fails to load becomes UNAVAILABLE
 * with its reason (in the log and the index); it never stops the others from serving.
 *
 * @example
 * const repository = await ModelRepository.open({ paths: ['examples/models'] });
 * console.log(repository.index());
 * await repository.close();
 */
export class ModelRepository {
  private readonly models = new Map<string, Model>();
  private readonly logger: Logger;
  private readonly defaults: AutocompleteDefaults;
  private readonly lifecycle = new Map<string, Promise<void>>();
  private handlerInfer: HandlerInfer | undefined;
  private graphRuntime: GraphRuntime | undefined;
  private readonly graphs: RepositoryGraphs;

  private constructor(private readonly options: ModelRepositoryOptions) {
    this.logger = options.logger ?? silentLogger();
    this.graphs = new RepositoryGraphs(
      () => this.models.values(),
      () => (this.graphRuntime ??= options.connectGraphs?.(this)),
      this.logger,
      options.metrics,
    );
    this.defaults = {
      cores: options.cores ?? availableParallelism(),
      defaultMaxBatchSize: options.defaultMaxBatchSize ?? 64,
      defaultMaxQueueWaitUs: options.defaultMaxQueueWaitUs ?? DEFAULT_MAX_QUEUE_WAIT,
    };
  }

  /** Discovers every model under `paths` and loads them all (in parallel); resolves when each is READY or UNAVAILABLE. */
  static async open(options: ModelRepositoryOptions): Promise<ModelRepository> {
    const repository = new ModelRepository(options);
    const sources = renamed(await discoverModels(options.paths), options.modelName);
    for (const source of sources) repository.models.set(source.name, { name: source.name, source, versions: new Map() });
    // Handlers may call other models from setup(), so models without one load first; graphs are
    // validated against the models they call, so they load after those and before handlers.
    const models = [...repository.models.values()];
    const handled = await Promise.all(models.map((m) => findHandlerFile(m.source).then((f) => f !== undefined, () => false)));
    const graphs = await Promise.all(models.map((m) => isGraphFolder(m.source)));
    await Promise.all(models.filter((_, i) => !handled[i] && !graphs[i]).map((m) => repository.load(m)));
    // Graphs are validated once everything else has loaded: a handler's folder may hold a model a
    // graph calls (digits has both), and graphs may call graphs.
    await Promise.all(models.filter((_, i) => !handled[i] && graphs[i]).map((m) => repository.load(m, { validateGraph: false })));
    await Promise.all(models.filter((_, i) => handled[i]).map((m) => repository.load(m, { validateGraph: false })));
    repository.graphs.refresh();
    return repository;
  }

  get(name: string): Model | undefined {
    return this.models.get(name);
  }

  names(): string[] {
    return [...this.models.keys()];
  }

  /** Every version of every model, whatever its state. */
  versions(): ModelVersion[] {
    return [...this.models.values()].flatMap((m) => [...m.versions.values()]);
  }

  /** Every model and version with its state, as `POST /v2/repository/index` reports them. */
  index(): RepositoryIndexEntry[] {
    const rows: RepositoryIndexEntry[] = [];
    for (const model of this.models.values()) {
      if (model.versions.size === 0 && model.handler !== undefined && model.reason === undefined) {
        rows.push({ name: model.name, state: model.handler.state, reason: model.handler.reason ?? '' });
        continue;
      }
      if (model.versions.size === 0) {
        rows.push({ name: model.name, state: 'UNAVAILABLE', reason: model.reason ?? 'not loaded' });
        continue;
      }
      for (const v of model.versions.values()) {
        rows.push({ name: model.name, version: String(v.version), state: v.state, reason: v.reason ?? '' });
      }
    }
    return rows;
  }

  /** True when nothing is still loading (failed models count as settled). */
  settled(): boolean {
    return [...this.models.values()].every(
      (m) => m.handler?.state !== 'LOADING' && [...m.versions.values()].every((v) => v.state !== 'LOADING'),
    );
  }

  /**
   * Loads a model that was dropped into a repository folder after start, or reloads a served one
   * (new versions, a changed config or file), as Triton's repository load does. A reload keeps the
   * old versions serving until the new ones are READY, and keeps them when the reload fails. When
   * only version folders changed, only those versions load or unload: the others keep their
   * instances, and a retired version drains its queue before it unloads.
   * Throws MODEL_NOT_FOUND when no repository path holds the model, MODEL_LOAD_FAILED (with the
   * reason) when no version could be loaded.
   *
   * @example
   * await repository.loadModel('digits');
   */
  async loadModel(name: string): Promise<void> {
    await this.oneAtATime(name, async () => {
      const served = this.models.get(name);
      if (served !== undefined && serves(served) && (await this.reloadVersions(served))) return;
      const source = this.models.get(name)?.source ?? (await this.findSource(name));
      const fresh: Model = { name, source, versions: new Map() };
      const old = this.models.get(name);
      const oldServes = old !== undefined && serves(old);
      // A model new to the server shows as LOADING in the index while it loads.
      if (!oldServes) this.models.set(name, fresh);
      await this.load(fresh);
      if (!serves(fresh)) {
        const reason =
          fresh.reason ??
          fresh.handler?.reason ??
          [...fresh.versions.values()].map((v) => `version ${v.version}: ${v.reason ?? v.state}`).join('; ');
        if (oldServes) await this.unload(fresh);
        throw new ServingError(
          'MODEL_LOAD_FAILED',
          `failed to load model '${name}': ${reason}${oldServes ? '; the versions loaded before keep serving' : ''}`,
        );
      }
      this.models.set(name, fresh);
      if (old !== undefined && old !== fresh) await this.drainAndUnload(old);
    }).finally(() => this.graphs.refresh());
  }

  /**
   * Unloads a model without dropping a request: new requests are refused at once (MODEL_NOT_READY),
   * queued and running ones finish (for at most `drainTimeoutMs`), then its instances stop. The model
   * stays in the index as UNAVAILABLE ("unloaded") and can be loaded again.
   */
  async unloadModel(name: string, drainTimeoutMs = 30_000): Promise<void> {
    await this.oneAtATime(name, async () => {
      const model = this.models.get(name);
      if (model === undefined) {
        throw new ServingError('MODEL_NOT_FOUND', `unknown model '${name}'; known: ${this.names().join(', ') || 'none'}`);
      }
      await this.drainAndUnload(model, drainTimeoutMs);
    }).finally(() => this.graphs.refresh());
  }

  /** Load and unload of one model run one after the other, never interleaved. */
  private async oneAtATime(name: string, work: () => Promise<void>): Promise<void> {
    const previous = this.lifecycle.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.lifecycle.set(name, next);
    try {
      await next;
    } finally {
      if (this.lifecycle.get(name) === next) this.lifecycle.delete(name);
    }
  }

  private async findSource(name: string): Promise<ModelSource> {
    const found = (await discoverModels(this.options.paths)).find((s) => s.name === name);
    if (found === undefined) {
      throw new ServingError(
        'MODEL_NOT_FOUND',
        `no model '${name}' in the model repository (${this.options.paths.join(', ')}); expected a folder ${name}/<version>/model.onnx in one of them`,
      );
    }
    return found;
  }

  private async drainAndUnload(model: Model, drainTimeoutMs = 30_000): Promise<void> {
    await drain([...model.versions.values()], drainTimeoutMs);
    await this.unload(model);
  }

  /**
   * A reload that touches only what changed, when the model's config.yaml and handler did not:
   * a new version folder loads beside the running ones and takes traffic once READY; a version
   * whose file changed is replaced when its new instances are READY; a version the policy no
   * longer selects drains its queue, then unloads. If a version fails to load, nothing is retired
   * and the versions loaded before keep serving. Returns false when a full reload is needed.
   */
  private async reloadVersions(model: Model): Promise<boolean> {
    // A handler may import any file of its folder, so a model with one reloads whole (still beside the
    // old one); so does a graph, whose versions are its declaration's.
    if (model.source.kind !== 'folder' || model.handler !== undefined || model.graph !== undefined) return false;
    let file: ModelConfigFile;
    let dirs: Map<number, string>;
    try {
      file = await loadModelConfigFile(join(model.source.dir, 'config.yaml'));
      if ((await findHandlerFile(model.source)) !== undefined) return false;
      dirs = await versionDirs(model.source);
    } catch {
      // The full reload reports what is wrong.
      return false;
    }
    if (JSON.stringify(file) !== JSON.stringify(model.configFile ?? {})) return false;
    const wanted = selectVersions(toVersionPolicy(file.version_policy), [...dirs.keys()]);
    if (wanted.length === 0) return false;
    const loads = await Promise.all(
      wanted.map(async (version) => {
        const current = model.versions.get(version);
        const modelPath = join(dirs.get(version)!, file.default_model_filename ?? 'model.onnx');
        if (current?.state === 'READY' && current.modelPath === modelPath && current.fingerprint === (await fingerprint(modelPath))) return undefined;
        const entry: ModelVersion = { model: model.name, version, modelPath, state: 'LOADING' };
        // A version new to the server shows as LOADING in the index; a changed one keeps serving until its replacement is READY.
        if (current === undefined) model.versions.set(version, entry);
        await this.startVersion(entry, file);
        return { entry, current };
      }),
    );
    const failed = loads.filter((l) => l !== undefined && l.entry.state !== 'READY');
    const retired: ModelVersion[] = [];
    for (const load of loads) {
      if (load === undefined) continue;
      const { entry, current } = load;
      if (entry.state === 'READY' || current?.state !== 'READY') {
        model.versions.set(entry.version, entry);
        if (current !== undefined && current !== entry) retired.push(current);
      }
    }
    if (failed.length === 0) {
      for (const [version, entry] of model.versions) {
        if (wanted.includes(version)) continue;
        model.versions.delete(version);
        retired.push(entry);
      }
    }
    await drain(retired, 30_000);
    await Promise.all(retired.map((v) => unloadVersion(v)));
    if (failed.length > 0) {
      throw new ServingError(
        'MODEL_LOAD_FAILED',
        `failed to load model '${model.name}': ${failed.map((l) => `version ${l!.entry.version}: ${l!.entry.reason ?? l!.entry.state}`).join('; ')}; the versions loaded before keep serving`,
      );
    }
    return true;
  }

  /** Unloads every model; each instance finishes the request it is running first. */
  async close(): Promise<void> {
    this.graphs.close();
    // Handlers first: their running requests still call models.
    await Promise.all([...this.models.values()].map((m) => (m.handler === undefined ? undefined : unloadModelHandler(m.handler))));
    await Promise.all([...this.models.values()].map((m) => this.unload(m)));
  }

  private async unload(model: Model): Promise<void> {
    if (model.handler !== undefined) {
      await unloadModelHandler(model.handler);
      // A tensor handler's version has no pool of its own: it ends with the handler's workers.
      for (const v of model.versions.values()) {
        if (!(v.scheduler instanceof TensorHandlerScheduler)) continue;
        v.scheduler = undefined;
        v.state = 'UNAVAILABLE';
        v.reason = 'unloaded';
      }
    }
    if (model.graph !== undefined) this.graphs.unload(model);
    await Promise.all([...model.versions.values()].map((v) => unloadVersion(v)));
  }

  private async load(model: Model, options: { validateGraph?: boolean } = {}): Promise<void> {
    let file: ModelConfigFile;
    let versions: number[];
    let dirs: Map<number, string>;
    let handlerFile: string | undefined;
    let graph: GraphDeclaration | undefined;
    try {
      file = model.source.kind === 'folder' ? await loadModelConfigFile(join(model.source.dir, 'config.yaml')) : {};
      if (file.name !== undefined && file.name !== model.name) {
        throw new ServingError('CONFIG_INVALID', `config.yaml: name '${file.name}' differs from the folder name '${model.name}'`);
      }
      graph = await readGraphDeclaration(model.source, file);
      dirs = graph === undefined ? await versionDirs(model.source) : new Map();
      handlerFile = await findHandlerFile(model.source);
      // A graph's versions are its (empty) version folders, or version 1 without any.
      const onDisk = graph !== undefined && model.source.kind === 'folder' ? await graphVersions(model.source.dir) : [...dirs.keys()];
      versions = selectVersions(toVersionPolicy(file.version_policy), onDisk);
      // A pipeline: a handler that calls other models, with no graph of its own.
      const pipeline = onDisk.length === 0 && handlerFile !== undefined;
      if (versions.length === 0 && !pipeline) {
        throw new ServingError(
          'CONFIG_INVALID',
          onDisk.length === 0
            ? 'no version folders (expected <model>/<version>/model.onnx)'
            : `version_policy selects none of the versions on disk (${onDisk.join(', ')})`,
        );
      }
    } catch (error) {
      model.reason = (error as Error).message;
      this.logger.error({ event: 'model_unavailable', model: model.name, reason: model.reason }, `model '${model.name}' is unavailable: ${model.reason}`);
      return;
    }
    model.configFile = file;
    if (graph !== undefined) await this.graphs.load(model, graph, versions, options.validateGraph ?? true);
    else await Promise.all(versions.map((version) => this.loadVersion(model, version, dirs.get(version)!, file)));
    if (handlerFile !== undefined && model.source.kind === 'folder') {
      this.handlerInfer ??= this.options.connectHandlers?.(this);
      model.handler = newModelHandler(handlerFile, file);
      await startModelHandler(model.handler, {
        model: model.name,
        dir: model.source.dir,
        hasGraph: versions.length > 0,
        configFile: file,
        infer: this.handlerInfer,
        logger: this.logger,
      });
      if (model.handler.pool?.description.mode === 'tensor') this.serveTensorHandler(model, model.handler, file);
    }
  }

  /**
   * A tensor handler is served as a model: version 1, its config the handler's declared signature,
   * its scheduler the handler's workers. Through the router, OIP, the dialects, batch jobs, the
   * statistics and graphs reach it as they reach any model.
   */
  private serveTensorHandler(model: Model, handler: ModelHandler, file: ModelConfigFile): void {
    const pool = handler.pool!;
    const signature = pool.description.signature!;
    const spec = (s: (typeof signature.inputs)[number]) => ({ name: s.name, datatype: s.datatype, dims: signature.maxBatchSize > 0 ? s.shape.slice(1) : s.shape });
    const config = signatureConfig(model.name, 'handler', signature.inputs.map(spec), signature.outputs.map(spec), signature.maxBatchSize, file);
    config.instanceCount = handler.config.instanceCount;
    const stats = new ModelStats(model.name, '1', this.options.metrics?.forModel(model.name, '1'));
    model.versions.set(1, {
      model: model.name,
      version: 1,
      modelPath: handler.file,
      state: 'READY',
      config,
      scheduler: new TensorHandlerScheduler(pool, stats),
      loadMs: 0,
    });
  }

  private async loadVersion(model: Model, version: number, dir: string, file: ModelConfigFile): Promise<void> {
    const source = model.source;
    const modelPath = source.kind === 'file' ? source.file : join(dir, file.default_model_filename ?? 'model.onnx');
    const entry: ModelVersion = { model: model.name, version, modelPath, state: 'LOADING' };
    model.versions.set(version, entry);
    // Nothing serves this version yet, so it is READY with its first instance and the others join behind
    // it (a cold start answers sooner). A version that replaces a serving one waits for all of them
    // (`reloadVersions`), so a swap under load never drops capacity.
    await this.startVersion(entry, file, { readyWithFirstInstance: true });
  }

  /** Starts a version's instances and scheduler: READY, or UNAVAILABLE with the reason (never thrown). */
  private async startVersion(entry: ModelVersion, file: ModelConfigFile, options: { readyWithFirstInstance?: boolean } = {}): Promise<void> {
    const { model: name, version, modelPath } = entry;
    const started = performance.now();
    const layout = defaultInstanceLayout(this.defaults.cores, file.instance_group?.count, file.instance_group?.intra_op_threads);
    let pool: InstancePool | undefined;
    try {
      entry.fingerprint = await fingerprint(modelPath);
      if (entry.fingerprint === MISSING) throw new ServingError('CONFIG_INVALID', `model file ${modelPath} not found`);
      pool = await InstancePool.start({
        worker: { platform: 'onnxruntime_onnx', modelPath, intraOpThreads: layout.intraOpThreads, ...(file.instance_group?.handoff !== undefined && { handoff: file.instance_group.handoff }) },
        count: layout.instanceCount,
        // Automatic placement measures on a full pool: its measurement must not share the cores with starts.
        ...(options.readyWithFirstInstance === true && file.instance_group?.placement !== 'auto' && { readyAfter: 1 }),
        logger: this.logger,
        onRestart: () => this.options.metrics?.instanceRestarted(name, String(version)),
        placement: file.instance_group?.placement === 'inline' ? 'inline' : 'worker',
      });
      entry.config = autocompleteConfig(name, file, pool.signature, this.defaults);
      const placed =
        file.instance_group?.placement === 'auto'
          ? await pool.settlePlacement(placementSample(entry.config), entry.config.outputs.map((o) => o.name), this.options.inlineBudgetUs)
          : { placement: pool.placement, reason: 'instance_group.placement in config.yaml' };
      entry.pool = pool;
      const stats = new ModelStats(name, String(version), this.options.metrics?.forModel(name, String(version)));
      entry.scheduler = new ModelScheduler(entry.config, pool, stats);
      entry.state = 'READY';
      const loadMs = Math.round(performance.now() - started);
      entry.loadMs = loadMs;
      this.logger.info(
        { event: 'model_loaded', model: name, version, loadMs, instances: pool.size, instancesStarting: pool.starting, intraOpThreads: layout.intraOpThreads, ...placed },
        `loaded ${name} version ${version} in ${loadMs} ms${placed.placement === 'inline' ? ' (on the main thread)' : ''}`,
      );
    } catch (error) {
      await pool?.close();
      entry.state = 'UNAVAILABLE';
      entry.reason = (error as Error).message;
      this.logger.error(
        { event: 'model_unavailable', model: name, version, reason: entry.reason },
        `model '${name}' version ${version} is unavailable: ${entry.reason}`,
      );
    }
  }
}

/** A model serves when a version is READY, or, for a pipeline (a handler and no graph), when its handler is. */
function serves(model: Model): boolean {
  if (model.versions.size === 0 && model.handler !== undefined) return model.handler.state === 'READY';
  return [...model.versions.values()].some((v) => v.state === 'READY');
}

/** Version number → the folder holding that version's model file. */
async function versionDirs(source: ModelSource): Promise<Map<number, string>> {
  if (source.kind === 'file') return new Map([[1, source.file]]);
  const entries = await readdir(source.dir, { withFileTypes: true });
  const dirs = new Map(
    entries
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && isVersionDirName(e.name))
      .map((e) => [Number(e.name), join(source.dir, e.name)] as const),
  );
  // A model.onnx directly in the model folder is version 1, for people who have just one.
  if (dirs.size === 0 && entries.some((e) => e.name === 'model.onnx')) dirs.set(1, source.dir);
  return dirs;
}

const MISSING = 'missing';

/** A file's identity for change detection: size, modification time and inode ('missing' when there is none). */
export async function fingerprint(path: string): Promise<string> {
  try {
    const info = await stat(path);
    return `${info.size}:${info.mtimeMs}:${info.ino}`;
  } catch {
    return MISSING;
  }
}

/**
 * Waits (up to `timeoutMs`) until the versions' queued and running requests have finished. They
 * are marked UNLOADING first: the router refuses new requests for a version that is not READY, and
 * it hands a request to the scheduler synchronously after that check, so none can slip in after.
 */
async function drain(versions: readonly ModelVersion[], timeoutMs: number): Promise<void> {
  // Every version with a scheduler: a model's batcher or a graph's executor (which has no pool).
  const serving = versions.filter((v) => v.scheduler !== undefined);
  // UNLOADING first: the router refuses new requests for a version that is not READY, and it
  // hands a request to the scheduler synchronously after that check, so none can slip in after.
  for (const v of serving) v.state = 'UNLOADING';
  const busy = (): boolean => serving.some((v) => (v.scheduler?.queueDepth ?? 0) + (v.scheduler?.inflight ?? 0) > 0);
  const deadline = performance.now() + timeoutMs;
  while (busy() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Stops a version's scheduler and instances (each finishes the request it is running). */
async function unloadVersion(v: ModelVersion): Promise<void> {
  if (v.pool === undefined) return;
  v.state = 'UNLOADING';
  const pool = v.pool;
  v.scheduler?.close();
  v.pool = undefined;
  v.scheduler = undefined;
  await pool.close();
  v.state = 'UNAVAILABLE';
  v.reason = 'unloaded';
}

/** Elements above which a sample batch is not built: a model fed this much is no microsecond model. */
const MAX_SAMPLE_ELEMENTS = 1 << 20;

/**
 * Zeros shaped like the largest batch the scheduler may form, to measure where the model runs;
 * undefined when a dim is variable, a tensor holds strings, or the batch would be large.
 */
export function placementSample(config: ModelConfig): Tensor[] | undefined {
  const batch = config.maxBatchSize > 0 ? [config.maxBatchSize] : [];
  const sample: Tensor[] = [];
  for (const input of config.inputs) {
    if (input.datatype === 'BYTES' || input.dims.some((d) => d < 0)) return undefined;
    const shape = [...batch, ...input.dims];
    const count = shape.reduce((a, b) => a * b, 1);
    if (count > MAX_SAMPLE_ELEMENTS) return undefined;
    sample.push({ name: input.name, datatype: input.datatype, shape, data: allocateData(input.datatype, count) });
  }
  return sample;
}
