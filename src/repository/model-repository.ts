import { access, readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { loadModelConfigFile } from '../config/load-model-config.js';
import { toVersionPolicy, type ModelConfig, type ModelConfigFile } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { InstancePool } from '../scheduler/instance-pool.js';
import { ModelScheduler } from '../scheduler/model-scheduler.js';
import { ModelStats } from '../scheduler/model-stats.js';
import { autocompleteConfig, defaultInstanceLayout, type AutocompleteDefaults } from './autocomplete.js';
import { discoverModels, isVersionDirName, type ModelSource } from './discover.js';
import { selectVersions } from './version-policy.js';

export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

/** One version of one model: its state and, once READY, its merged config and running instances. */
export interface ModelVersion {
  readonly model: string;
  readonly version: number;
  readonly modelPath: string;
  state: ModelState;
  reason?: string;
  config?: ModelConfig;
  pool?: InstancePool;
  scheduler?: ModelScheduler;
}

export interface Model {
  readonly name: string;
  readonly source: ModelSource;
  /** Versions the policy selected, by number. */
  readonly versions: Map<number, ModelVersion>;
  /** Why the model as a whole could not load (bad config, no version matched the policy). */
  reason?: string;
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

  private constructor(private readonly options: ModelRepositoryOptions) {
    this.logger = options.logger ?? silentLogger();
    this.defaults = {
      cores: options.cores ?? availableParallelism(),
      defaultMaxBatchSize: options.defaultMaxBatchSize ?? 64,
    };
  }

  /** Discovers every model under `paths` and loads them all (in parallel); resolves when each is READY or UNAVAILABLE. */
  static async open(options: ModelRepositoryOptions): Promise<ModelRepository> {
    const repository = new ModelRepository(options);
    const sources = await discoverModels(options.paths);
    for (const source of sources) repository.models.set(source.name, { name: source.name, source, versions: new Map() });
    await Promise.all([...repository.models.values()].map((m) => repository.load(m)));
    return repository;
  }

  get(name: string): Model | undefined {
    return this.models.get(name);
  }

  names(): string[] {
    return [...this.models.keys()];
  }

  /** Every model and version with its state, as `POST /v2/repository/index` reports them. */
  index(): RepositoryIndexEntry[] {
    const rows: RepositoryIndexEntry[] = [];
    for (const model of this.models.values()) {
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
    return [...this.models.values()].every((m) => [...m.versions.values()].every((v) => v.state !== 'LOADING'));
  }

  /** Unloads every model; each instance finishes the request it is running first. */
  async close(): Promise<void> {
    await Promise.all([...this.models.values()].map((m) => this.unload(m)));
  }

  private async unload(model: Model): Promise<void> {
    await Promise.all(
      [...model.versions.values()].map(async (v) => {
        if (v.pool === undefined) return;
        v.state = 'UNLOADING';
        const pool = v.pool;
        v.scheduler?.close();
        v.pool = undefined;
        v.scheduler = undefined;
        await pool.close();
        v.state = 'UNAVAILABLE';
        v.reason = 'unloaded';
      }),
    );
  }

  private async load(model: Model): Promise<void> {
    let file: ModelConfigFile;
    let versions: number[];
    let dirs: Map<number, string>;
    try {
      file = model.source.kind === 'folder' ? await loadModelConfigFile(join(model.source.dir, 'config.yaml')) : {};
      if (file.name !== undefined && file.name !== model.name) {
        throw new ServingError('CONFIG_INVALID', `config.yaml: name '${file.name}' differs from the folder name '${model.name}'`);
      }
      dirs = await versionDirs(model.source);
      const onDisk = [...dirs.keys()];
      versions = selectVersions(toVersionPolicy(file.version_policy), onDisk);
      if (versions.length === 0) {
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
    await Promise.all(versions.map((version) => this.loadVersion(model, version, dirs.get(version)!, file)));
  }

  private async loadVersion(model: Model, version: number, dir: string, file: ModelConfigFile): Promise<void> {
    const source = model.source;
    const modelPath = source.kind === 'file' ? source.file : join(dir, file.default_model_filename ?? 'model.onnx');
    const entry: ModelVersion = { model: model.name, version, modelPath, state: 'LOADING' };
    model.versions.set(version, entry);
    const started = performance.now();
    const layout = defaultInstanceLayout(this.defaults.cores, file.instance_group?.count, file.instance_group?.intra_op_threads);
    let pool: InstancePool | undefined;
    try {
      await access(modelPath).catch(() => {
        throw new ServingError('CONFIG_INVALID', `model file ${modelPath} not found`);
      });
      pool = await InstancePool.start({
        worker: { platform: 'onnxruntime_onnx', modelPath, intraOpThreads: layout.intraOpThreads },
        count: layout.instanceCount,
        logger: this.logger,
      });
      entry.config = autocompleteConfig(model.name, file, pool.signature, this.defaults);
      entry.pool = pool;
      entry.scheduler = new ModelScheduler(entry.config, pool, new ModelStats(model.name, String(version)));
      entry.state = 'READY';
      const loadMs = Math.round(performance.now() - started);
      this.logger.info(
        { event: 'model_loaded', model: model.name, version, loadMs, instances: layout.instanceCount, intraOpThreads: layout.intraOpThreads },
        `loaded ${model.name} version ${version} in ${loadMs} ms`,
      );
    } catch (error) {
      await pool?.close();
      entry.state = 'UNAVAILABLE';
      entry.reason = (error as Error).message;
      this.logger.error(
        { event: 'model_unavailable', model: model.name, version, reason: entry.reason },
        `model '${model.name}' version ${version} is unavailable: ${entry.reason}`,
      );
    }
  }
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
