import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { loadModelConfigFile } from '../config/load-model-config.js';
import type { ModelConfig } from '../config/model-config.js';
import { ServingError, isServingError } from '../errors/serving-error.js';
import type { Logger } from '../observability/logger.js';
import type { Slipway } from '../slipway.js';
import type { Tensor } from '../tensor/tensor.js';
import { failpoint } from './failpoint.js';
import type { Shard } from './shard.js';
import { planBatch, planSpec, resolveMapping, tableLayout, type BatchPlan, type MappingFlags } from './mapping/batch-mapping.js';
import { ChunkBuilder } from './mapping/chunk-builder.js';
import { decodeOutputs } from './mapping/output-columns.js';
import { RowError } from './mapping/tensor-values.js';
import { silentProgress, type ProgressReporter } from './progress-reporter.js';
import {
  HEARTBEAT_MS,
  LEASE_MS,
  checkTableName,
  runConflict,
  type BatchStore,
  type RejectRow,
  type RunRecord,
  type TableLayout,
} from './sinks/batch-store.js';
import { openStore } from './sinks/open-store.js';
import { CsvSource } from './sources/csv-source.js';
import { describeFingerprintChange, expandInputFiles, type FileFormat } from './sources/input-files.js';
import { JsonlSource } from './sources/jsonl-source.js';
import type { Checkpoint, RowSource } from './sources/row-source.js';
import { SqlSource, cursorKey } from './sources/sql-source.js';

/** A job's options, as `slipway batch run` and `batch schedule` pass them (validated by the CLI). */
export interface BatchJobOptions {
  model: string;
  version?: string;
  /** Files or globs (CSV, TSV, JSONL, optionally .gz); or `query`. */
  input?: readonly string[];
  /** A SELECT run against the output database. */
  query?: string;
  format?: FileFormat;
  delimiter?: string;
  /** `sqlite:PATH` or `postgres://…`. */
  output: string;
  /** Default: `<model>_predictions`. */
  table?: string;
  mapping: MappingFlags;
  /** Resume (or re-check) this run; a new id is made when absent. */
  runId?: string;
  /** Runs of one job resume each other (default: the table name). */
  job?: string;
  /** Continue the job's interrupted run when there is one (default true). */
  resume?: boolean;
  /** Take a run over even if its owner still looks alive. */
  takeover?: boolean;
  /** Stop (and fail the run) once more rows than this are rejected. */
  maxRejects?: number;
  /** Fail the run at the end when more than this fraction (0..1) of its rows were rejected. */
  maxRejectFraction?: number;
  /**
   * After a successful run, keep only the newest this many predictions of each key it wrote (and the
   * rejects of the newest this many runs); every run's rows are kept when absent.
   */
  keepRuns?: number;
  /** Rows per request (default and maximum: the model's max_batch_size). */
  batchSize?: number;
  /** Requests in flight at once (default: two per instance). */
  inflight?: number;
  /** Commit at least every this many rows (default 10000) ... */
  commitRows?: number;
  /** ... and at least this often (default 1000 ms). */
  commitIntervalMs?: number;
  progress?: ProgressReporter;
  /** Aborting stops reading, commits what is done and marks the run interrupted (resumable). */
  signal?: AbortSignal;
  /**
   * Only this worker's part of the input (`--shard i/N`): rows whose key hashes to i. Each shard is a
   * run of its own (job `<job>#i/N`) that resumes on its own; the shards write one table between them.
   */
  shard?: Shard;
}

export interface BatchRunSummary {
  runId: string;
  job: string;
  table: string;
  output: string;
  model: string;
  modelVersion: string;
  status: 'succeeded' | 'failed' | 'interrupted' | 'already-succeeded';
  /** Where this attempt started (0 for a fresh run). */
  resumedFrom: number;
  rowsRead: number;
  rowsPredicted: number;
  rowsRejected: number;
  /** Rows this attempt consumed, and how fast. */
  attemptRows: number;
  elapsedMs: number;
  rowsPerSecond: number;
  error?: string;
}

interface PendingChunk {
  start: number;
  end: number;
  /** Rows in [start, end) that belong to another shard: consumed, not read. */
  skipped: number;
  /** Per predicted row: its key, position and location (rejected rows are in `rejects`). */
  keys: string[];
  positions: number[];
  locations: string[];
  inputs: Tensor[] | undefined;
  rejects: RejectRow[];
  checkpoint: Checkpoint;
  result: Promise<{ outputs: Tensor[] } | ServingError> | undefined;
}

const TRANSIENT = new Set(['INSTANCE_FAILED', 'MODEL_NOT_READY', 'QUEUE_FULL', 'SERVER_SHUTTING_DOWN', 'DEADLINE_EXCEEDED']);

/** Owners of the runs this process is working on right now. */
const activeOwners = new Set<string>();

/** `host:pid:token`: who works on a run, and whether that process is still alive. */
export function makeOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** True when the run's owner cannot be working on it any more (a dead pid on this host, or a stale heartbeat). */
export function ownerIsGone(run: RunRecord, now = Date.now()): boolean {
  if (now - run.heartbeatAt.getTime() > LEASE_MS) return true;
  const [host, pid] = run.owner.split(':');
  if (host !== hostname() || pid === undefined) return false;
  // Our own pid with an owner we are not running: an earlier incarnation (a restarted container is pid 1 again).
  if (Number(pid) === process.pid) return !activeOwners.has(run.owner);
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function newRunId(job: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${job}-${stamp}-${randomBytes(3).toString('hex')}`;
}

function describeSpecChange(before: string, after: string): string {
  const a = JSON.parse(before) as Record<string, unknown>;
  const b = JSON.parse(after) as Record<string, unknown>;
  const keys = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return keys.map((k) => `${k} was ${JSON.stringify(a[k])}, now ${JSON.stringify(b[k])}`).join('; ');
}

/**
 * Runs one batch prediction job: reads the input, sends chunks of rows to the model (several in
 * flight, so every instance stays busy), and commits predictions, rejects and the checkpoint
 * together. Killed at any point and run again, it resumes from the last commit: no row is lost or
 * written twice.
 *
 * @example
 * const slipway = await Slipway.open({ models: 'examples/models/digits' });
 * const summary = await runBatchJob(slipway, {
 *   model: 'digits', input: ['digits.csv'], output: 'sqlite:./predictions.db', mapping: { key: 'id' },
 * });
 * console.log(`${summary.rowsPredicted} rows at ${summary.rowsPerSecond} rows/s`);
 */
export async function runBatchJob(slipway: Slipway, options: BatchJobOptions, logger: Logger = slipway.logger): Promise<BatchRunSummary> {
  const table = options.table ?? `${options.model}_predictions`;
  checkTableName(table);
  const job = `${options.job ?? table}${options.shard === undefined ? '' : `#${options.shard.label}`}`;
  if ((options.input === undefined || options.input.length === 0) === (options.query === undefined)) {
    throw new ServingError('CONFIG_INVALID', 'give either --input (files or globs) or --query (a SELECT against the output database)');
  }
  const store = await openStore(options.output);
  let source: RowSource | undefined;
  try {
    await store.prepareRuns();
    source =
      options.query !== undefined
        ? await SqlSource.open(store, options.query, options.mapping.key)
        : await openFileSource(options.input!, options.format, options.delimiter);
    return await runWithStore(slipway, options, store, source, table, job, logger);
  } finally {
    await source?.close();
    await store.close();
  }
}

async function openFileSource(patterns: readonly string[], format: FileFormat | undefined, delimiter: string | undefined): Promise<RowSource> {
  const files = await expandInputFiles(patterns, { ...(format !== undefined && { format }), ...(delimiter !== undefined && { delimiter }) });
  return files[0]!.format === 'csv' ? CsvSource.open(files) : JsonlSource.open(files);
}

async function modelSection(slipway: Slipway, model: string): Promise<{ section: Awaited<ReturnType<typeof loadModelConfigFile>>['batch']; dir: string | undefined }> {
  const source = slipway.repository.get(model)?.source;
  if (source?.kind !== 'folder') return { section: undefined, dir: undefined };
  const file = await loadModelConfigFile(join(source.dir, 'config.yaml'));
  return { section: file.batch, dir: source.dir };
}

interface Target {
  version: number;
  config: ModelConfig;
  plan: BatchPlan;
  spec: string;
}

async function runWithStore(
  slipway: Slipway,
  options: BatchJobOptions,
  store: BatchStore,
  source: RowSource,
  table: string,
  job: string,
  logger: Logger,
): Promise<BatchRunSummary> {
  const { section, dir } = await modelSection(slipway, options.model);
  const mapping = await resolveMapping(options.mapping, section, dir);
  const plan = (version?: string): Target => {
    const target = slipway.router.resolve(options.model, version);
    const batchPlan = planBatch(target.config, source, mapping);
    const spec = planSpec(options.model, target.version, table, batchPlan);
    // A shard resumes only as the same shard: another split would leave rows to nobody or to two.
    return { version: target.version, config: target.config, plan: batchPlan, spec: options.shard === undefined ? spec : JSON.stringify({ ...JSON.parse(spec), shard: options.shard.label }) };
  };
  const owner = makeOwner();
  activeOwners.add(owner);
  try {
    return await claimAndExecute(slipway, options, store, source, table, job, logger, owner, plan);
  } finally {
    activeOwners.delete(owner);
  }
}

async function claimAndExecute(
  slipway: Slipway,
  options: BatchJobOptions,
  store: BatchStore,
  source: RowSource,
  table: string,
  job: string,
  logger: Logger,
  owner: string,
  plan: (version?: string) => Target,
): Promise<BatchRunSummary> {
  const fingerprint = source.fingerprint();
  let target: Target | undefined;
  let run: RunRecord | undefined;

  const claim = async (existing: RunRecord): Promise<RunRecord> => {
    const claimed = await store.claimRun(existing.id, existing.owner, owner);
    if (claimed === undefined) throw runConflict(existing.id, 'was claimed by another process at the same moment; try again');
    return claimed;
  };

  if (options.runId !== undefined) {
    const existing = await store.getRun(options.runId);
    if (existing !== undefined) {
      if (existing.table !== table) throw runConflict(existing.id, `belongs to table '${existing.table}', not '${table}'`);
      target = plan(options.version ?? existing.modelVersion);
      if (existing.spec !== target.spec) throw runConflict(existing.id, `was started with other options: ${describeSpecChange(existing.spec, target.spec)}`);
      if (existing.status === 'succeeded') {
        return summaryOf(existing, options, 'already-succeeded', existing.rowsRead, 0, 0);
      }
      if (existing.fingerprint !== fingerprint) {
        throw new ServingError('CONFIG_INVALID', `run '${existing.id}' cannot resume: its input changed since it started (${describeFingerprintChange(existing.fingerprint, fingerprint)}); start a new run`);
      }
      if (existing.status === 'running' && !ownerIsGone(existing) && options.takeover !== true) {
        throw runConflict(existing.id, `is being run by ${existing.owner} (heartbeat ${Math.round((Date.now() - existing.heartbeatAt.getTime()) / 1000)} s ago); pass --takeover if that process is gone`);
      }
      run = await claim(existing);
    }
  } else if (options.resume !== false) {
    const latest = await store.latestRun(job);
    if (latest !== undefined && (latest.status === 'running' || latest.status === 'interrupted')) {
      if (latest.status === 'running' && !ownerIsGone(latest) && options.takeover !== true) {
        throw runConflict(latest.id, `of job '${job}' is still running (${latest.owner}, heartbeat ${Math.round((Date.now() - latest.heartbeatAt.getTime()) / 1000)} s ago); a job never runs twice at once`);
      }
      let resumable: Target | undefined;
      let why: string | undefined;
      try {
        resumable = plan(options.version ?? latest.modelVersion);
        if (resumable.spec !== latest.spec) why = `its options differ (${describeSpecChange(latest.spec, resumable.spec)})`;
        else if (latest.fingerprint !== fingerprint) why = `its input changed (${describeFingerprintChange(latest.fingerprint, fingerprint)})`;
      } catch (error) {
        why = `its model version ${latest.modelVersion} is not available (${(error as Error).message})`;
      }
      const claimed = await claim(latest);
      if (why === undefined) {
        run = claimed;
        target = resumable;
      } else {
        await store.finishRun(claimed.id, owner, 'failed', `abandoned: interrupted, and cannot resume because ${why}`);
        logger.warn({ event: 'batch_run_abandoned', runId: claimed.id, reason: why }, `run ${claimed.id} was interrupted and cannot resume: ${why}`);
      }
    }
  }

  target ??= plan(options.version);
  const layout = tableLayout(table, target.plan);
  await store.prepareTable(layout);
  if (run === undefined) {
    const now = new Date();
    run = {
      id: options.runId ?? newRunId(job),
      job,
      table,
      model: options.model,
      modelVersion: String(target.version),
      input: source.description,
      keyColumn: target.plan.keyColumn,
      status: 'running',
      startedAt: now,
      finishedAt: undefined,
      heartbeatAt: now,
      rowsRead: 0,
      rowsPredicted: 0,
      rowsRejected: 0,
      error: undefined,
      checkpoint: { position: 0 },
      fingerprint,
      spec: target.spec,
      owner,
    };
    await store.insertRun(run);
    logger.info({ event: 'batch_run_started', runId: run.id, table }, `batch run ${run.id} started`);
  } else {
    logger.info({ event: 'batch_run_resumed', runId: run.id, position: run.checkpoint.position }, `batch run ${run.id} resumes at row ${run.checkpoint.position}`);
  }
  failpoint('after-start');
  return execute(slipway, options, store, source, run, owner, target, layout, logger);
}

function summaryOf(run: RunRecord, options: BatchJobOptions, status: BatchRunSummary['status'], resumedFrom: number, attemptRows: number, elapsedMs: number): BatchRunSummary {
  return {
    runId: run.id,
    job: run.job,
    table: run.table,
    output: options.output,
    model: run.model,
    modelVersion: run.modelVersion,
    status,
    resumedFrom,
    rowsRead: run.rowsRead,
    rowsPredicted: run.rowsPredicted,
    rowsRejected: run.rowsRejected,
    attemptRows,
    elapsedMs,
    rowsPerSecond: elapsedMs > 0 ? Math.round((attemptRows / elapsedMs) * 1000) : 0,
    ...(run.error !== undefined && { error: run.error }),
  };
}

async function execute(
  slipway: Slipway,
  options: BatchJobOptions,
  store: BatchStore,
  source: RowSource,
  run: RunRecord,
  owner: string,
  target: Target,
  layout: TableLayout,
  logger: Logger,
): Promise<BatchRunSummary> {
  const { plan, config } = target;
  const batched = config.maxBatchSize > 0;
  if (options.batchSize !== undefined && options.batchSize < 1) throw new ServingError('CONFIG_INVALID', '--batch-size must be at least 1');
  const maxRows = batched ? Math.min(options.batchSize ?? config.maxBatchSize, config.maxBatchSize) : 1;
  const instances = slipway.repository.get(options.model)?.versions.get(target.version)?.pool?.size ?? 1;
  const inflightLimit = Math.max(1, options.inflight ?? instances * 2);
  const commitRows = options.commitRows ?? 10_000;
  const commitIntervalMs = options.commitIntervalMs ?? 1000;
  const progress = options.progress ?? silentProgress;
  const version = String(target.version);
  const builder = new ChunkBuilder(plan.inputs, plan.slots, plan.labels, maxRows, batched);
  const writer = await store.writer(layout, run.id, owner, version);

  const startedAt = performance.now();
  const resumedFrom = run.checkpoint.position;
  // Rows this attempt read (with a shard, rows of other shards are consumed but not read).
  const readBefore = run.rowsRead;
  const counts = { read: run.rowsRead, predicted: run.rowsPredicted, rejected: run.rowsRejected };
  let checkpoint: Checkpoint = run.checkpoint;
  let uncommittedRows = 0;
  let lastCommit = performance.now();
  let sqlKey: string | number | undefined = checkpoint.lastKey;
  let sqlRun = checkpoint.rowsAtLastKey ?? 0;

  // The chunk being filled covers positions [chunk.start, position).
  let position = checkpoint.position;
  let chunk = emptyChunk(position);
  const queue: PendingChunk[] = [];

  const infer = (inputs: Tensor[]): Promise<{ outputs: Tensor[] } | ServingError> =>
    slipway.infer({ model: options.model, version, inputs }).then(
      (response) => ({ outputs: response.outputs }),
      (error: unknown) => (isServingError(error) ? error : new ServingError('INFERENCE_FAILED', (error as Error).message ?? String(error), { cause: error })),
    );

  /** Sends the chunk being filled (if it holds any row) and starts the next. */
  const closeChunk = (): void => {
    if (position === chunk.start) return;
    chunk.end = position;
    chunk.checkpoint = source.kind === 'sql' && sqlKey !== undefined ? { position, lastKey: sqlKey, rowsAtLastKey: sqlRun } : { position };
    if (builder.size > 0) {
      chunk.inputs = builder.take();
      chunk.result = infer(chunk.inputs);
    }
    queue.push(chunk);
    chunk = emptyChunk(position);
  };

  const heartbeat = setInterval(() => {
    store.heartbeat(run.id, owner).then(
      (owned) => {
        if (!owned) logger.warn({ event: 'batch_run_lost', runId: run.id }, `run ${run.id} was taken over by another process`);
      },
      (error: unknown) => logger.warn({ event: 'batch_heartbeat_failed', err: error }, 'heartbeat failed'),
    );
  }, HEARTBEAT_MS);
  heartbeat.unref();

  const snapshot = (): void => {
    const { unit, total } = source.progressTotal();
    progress.update({ rows: counts.read - readBefore, rejected: counts.rejected, done: source.progressDone(), total, unit, elapsedMs: performance.now() - startedAt });
  };

  /** Infers a chunk, retrying transient failures; a chunk the model refuses is split to find the rows at fault. */
  const predict = async (done: PendingChunk): Promise<{ rows: number[]; values: unknown[][] }> => {
    const all = done.keys.map((_, r) => r);
    let result = await done.result!;
    for (let attempt = 1; result instanceof ServingError && TRANSIENT.has(result.code) && attempt <= 3; attempt++) {
      logger.warn({ event: 'batch_chunk_retry', attempt, err: result }, `chunk at row ${done.start} failed (${result.message}); retrying`);
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
      result = await infer(done.inputs!);
    }
    if (!(result instanceof ServingError)) return { rows: all, values: decodeOutputs(plan.outputs, result.outputs, all.length, batched, plan.classLabels) };
    if (TRANSIENT.has(result.code)) throw result;
    // The model refused rows that passed validation: predict them one by one so only the bad ones are rejected.
    const rows: number[] = [];
    const values: unknown[][] = plan.outputs.map(() => []);
    for (const r of all) {
      const one = all.length === 1 ? result : await infer(done.inputs!.map((t) => sliceRow(t, r, batched)));
      if (one instanceof ServingError) {
        if (TRANSIENT.has(one.code)) throw one;
        done.rejects.push({ position: done.positions[r]!, location: done.locations[r]!, key: done.keys[r]!, reason: `the model refused the row: ${one.message}`, raw: '' });
        continue;
      }
      decodeOutputs(plan.outputs, one.outputs, 1, batched, plan.classLabels).forEach((v, c) => values[c]!.push(v[0]));
      rows.push(r);
    }
    return { rows, values };
  };

  // Predictions wait here until enough rows make one insert worth its round trip (PostgreSQL). They are
  // always written before a commit, so a checkpoint never covers rows outside its transaction.
  let buffer = emptyBuffer(plan.outputs.length);
  const flush = async (): Promise<void> => {
    const pending = buffer;
    buffer = emptyBuffer(plan.outputs.length);
    if (pending.keys.length > 0) {
      const duplicates = await writer.insert({ keys: pending.keys, values: pending.values }, new Date());
      counts.predicted += pending.keys.length - duplicates.length;
      for (const d of duplicates) {
        pending.rejects.push({
          position: pending.positions[d]!,
          location: pending.locations[d]!,
          key: pending.keys[d]!,
          reason: `key '${pending.keys[d]}' appears more than once in the input; the first row with it was kept`,
          raw: '',
        });
      }
    }
    await writer.reject(pending.rejects);
    counts.rejected += pending.rejects.length;
  };

  const commit = async (): Promise<void> => {
    await flush();
    await writer.commit({ checkpoint, rowsRead: counts.read, rowsPredicted: counts.predicted, rowsRejected: counts.rejected });
    uncommittedRows = 0;
    lastCommit = performance.now();
    failpoint('mid-batch');
  };

  /** Takes the oldest chunk once its answer is in; commits every commitRows rows or commitIntervalMs. */
  const completeHead = async (): Promise<void> => {
    const done = queue.shift()!;
    if (done.inputs !== undefined) {
      const { rows, values } = await predict(done);
      for (const r of rows) {
        buffer.keys.push(done.keys[r]!);
        buffer.positions.push(done.positions[r]!);
        buffer.locations.push(done.locations[r]!);
      }
      values.forEach((column, c) => {
        const target = buffer.values[c]!;
        for (const v of column) target.push(v);
      });
    }
    for (const reject of done.rejects) buffer.rejects.push(reject);
    counts.read += done.end - done.start - done.skipped;
    checkpoint = done.checkpoint;
    uncommittedRows += done.end - done.start - done.skipped;
    if (options.maxRejects !== undefined && counts.rejected + buffer.rejects.length > options.maxRejects) {
      await commit();
      throw new ServingError('INVALID_INPUT', `${counts.rejected} rows were rejected, more than --max-rejects ${options.maxRejects}; the reasons are in table ${layout.table}_rejects`);
    }
    if (uncommittedRows >= commitRows || performance.now() - lastCommit >= commitIntervalMs) await commit();
    else if (buffer.keys.length >= WRITE_ROWS) await flush();
    snapshot();
  };

  progress.start(layout.table);
  let status: 'succeeded' | 'failed' | 'interrupted' = 'succeeded';
  let failure: Error | undefined;
  try {
    outer: for await (const block of source.blocks(checkpoint)) {
      for (let i = 0; i < block.size; i++) {
        if (options.signal?.aborted === true) {
          status = 'interrupted';
          break outer;
        }
        const row = block.row(i);
        if (row.position !== position) throw new ServingError('INTERNAL', `row ${row.position} arrived where row ${position} was expected`);
        let key: string | undefined;
        let reason = row.problem();
        if (reason === undefined) {
          if (plan.keySlot === undefined) key = String(position + 1);
          else {
            const raw = row.get(plan.keySlot);
            if (source.kind === 'sql') {
              const k = cursorKey(raw);
              if (sqlKey !== undefined && String(k) === String(sqlKey)) sqlRun++;
              else {
                sqlKey = k;
                sqlRun = 1;
              }
            }
            if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) reason = `key column '${plan.keyColumn}' is missing or empty`;
            else if (typeof raw === 'object' && !(raw instanceof Date)) reason = `key column '${plan.keyColumn}' holds ${Array.isArray(raw) ? 'an array' : 'an object'}, not a value`;
            else key = raw instanceof Date ? raw.toISOString() : String(raw);
          }
        }
        if (options.shard !== undefined && !options.shard.owns(key ?? `row ${position}`)) {
          chunk.skipped++;
          position++;
          continue;
        }
        if (reason === undefined) {
          try {
            if (!builder.add(row)) {
              // This row's variable dimensions differ from the chunk's: send the chunk, start another.
              closeChunk();
              builder.add(row);
            }
          } catch (error) {
            if (!(error instanceof RowError)) throw error;
            reason = error.message;
          }
        }
        if (reason !== undefined) chunk.rejects.push({ position, location: row.location(), key: key ?? null, reason, raw: row.raw() });
        else {
          chunk.keys.push(key!);
          chunk.positions.push(position);
          chunk.locations.push(row.location());
        }
        position++;
        if (builder.full || chunk.rejects.length >= maxRows) {
          closeChunk();
          while (queue.length >= inflightLimit) await completeHead();
        }
      }
    }
    closeChunk();
    while (queue.length > 0) await completeHead();
    await commit();
    if (status === 'succeeded' && options.maxRejectFraction !== undefined && counts.read > 0 && counts.rejected / counts.read > options.maxRejectFraction) {
      throw new ServingError(
        'INVALID_INPUT',
        `${counts.rejected} of ${counts.read} rows were rejected (${((counts.rejected / counts.read) * 100).toFixed(1)}%), more than --max-rejects ${(options.maxRejectFraction * 100).toFixed(1)}%; the reasons are in table ${layout.table}_rejects`,
      );
    }
  } catch (error) {
    failure = error as Error;
    status = 'failed';
    await writer.rollback().catch(() => undefined);
    // Let in-flight requests settle so nothing is left running against a closing model.
    await Promise.allSettled(queue.map((c) => c.result));
  } finally {
    clearInterval(heartbeat);
    progress.stop();
  }
  const elapsedMs = performance.now() - startedAt;
  if (status === 'succeeded' && options.keepRuns !== undefined) {
    // Housekeeping, outside the exactly-once path: a failure here leaves older rows, never loses new ones.
    try {
      const deleted = await store.prune(layout, run.id, options.keepRuns);
      logger.info({ event: 'batch_pruned', runId: run.id, deleted }, `deleted ${deleted} predictions older than the newest ${options.keepRuns} run(s)`);
    } catch (error) {
      logger.warn({ event: 'batch_prune_failed', err: error }, `could not delete older predictions: ${(error as Error).message}`);
    }
  }
  const lostOwnership = failure !== undefined && isServingError(failure) && failure.code === 'RUN_CONFLICT';
  if (lostOwnership) throw failure!;
  await store.finishRun(run.id, owner, status, failure?.message);
  const finished = (await store.getRun(run.id)) ?? run;
  const summary = summaryOf(finished, options, status, resumedFrom, counts.read - readBefore, elapsedMs);
  if (failure !== undefined) {
    summary.error = failure.message;
    if (!isServingError(failure) || failure.category === 'INTERNAL') logger.error({ err: failure, runId: run.id }, `batch run ${run.id} failed`);
  }
  logger.info({ event: 'batch_run_finished', runId: run.id, status, rows: summary.rowsRead }, `batch run ${run.id} ${status}`);
  return summary;
}

/** Rows per insert: large enough that a PostgreSQL round trip is shared by many rows. */
const WRITE_ROWS = 1024;

interface WriteBuffer {
  keys: string[];
  values: unknown[][];
  positions: number[];
  locations: string[];
  rejects: RejectRow[];
}

function emptyBuffer(columns: number): WriteBuffer {
  return { keys: [], values: Array.from({ length: columns }, () => []), positions: [], locations: [], rejects: [] };
}

function emptyChunk(start: number): PendingChunk {
  return { start, end: start, skipped: 0, keys: [], positions: [], locations: [], inputs: undefined, rejects: [], checkpoint: { position: start }, result: undefined };
}

/** Row r of a chunk's input tensor, as a one-row tensor (a view, not a copy). */
function sliceRow(tensor: Tensor, r: number, batched: boolean): Tensor {
  if (!batched) return tensor;
  const rows = tensor.shape[0]!;
  const width = tensor.data.length / rows;
  const data = Array.isArray(tensor.data) ? tensor.data.slice(r * width, (r + 1) * width) : tensor.data.subarray(r * width, (r + 1) * width);
  return { ...tensor, shape: [1, ...tensor.shape.slice(1)], data: data as Tensor['data'] };
}

