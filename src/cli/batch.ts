import type { Command } from 'commander';
import { pino } from 'pino';
import { runBatchJob, type BatchJobOptions, type BatchRunSummary } from '../batch/batch-job.js';
import { BatchSchedule } from '../batch/batch-schedule.js';
import { formatAge, parseDuration } from '../config/duration.js';
import { parseRunFlags, runFlagsToArgs, type BatchRunFlags } from '../batch/job-flags.js';
import { cronJobYaml, indexedJobYaml } from '../batch/kubernetes-cronjob.js';
import { barProgress, lineProgress, silentProgress, type ProgressReporter } from '../batch/progress-reporter.js';
import { DEFAULT_OUTPUT, openStore } from '../batch/sinks/open-store.js';
import { statusExitCode, tableHealth, type TableHealth } from '../batch/staleness.js';
import { ServingError } from '../errors/serving-error.js';
import type { Logger } from '../observability/logger.js';
import { discoverModels } from '../repository/discover.js';
import { Slipway } from '../slipway.js';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function addRunOptions(command: Command): Command {
  return command
    .option('--models <path>', 'model repository, model folder or .onnx file (repeatable; default ./models)', collect)
    .option('--model <name[:version]>', 'the model to run, optionally pinned to a version')
    .option('--input <paths...>', 'CSV/TSV/JSONL files or globs (optionally .gz), read in order, streamed')
    .option('--query <sql>', 'a SELECT against the output database instead of files (needs --key)')
    .option('--format <format>', 'csv or jsonl, when the file names do not say')
    .option('--delimiter <char>', 'CSV field delimiter (default , or tab for .tsv)')
    .option('--output <url>', `sqlite:PATH or postgres://… (default ${DEFAULT_OUTPUT})`)
    .option('--table <name>', 'predictions table (default <model>_predictions)')
    .option('--key <column>', 'the column that identifies a row (default: its row number)')
    .option('--map <input=columns>', 'columns feeding an input: image=p0..p63, x=a,b,c, x=pixel_*, x=field (repeatable)', collect)
    .option('--output-column <column=expr>', 'a predictions column: argmax(o), max(o), label(o), json(o), o[i], o (repeatable)', collect)
    .option('--labels <file>', 'class names, one per line, for label(o) and the default label column')
    .option('--mapping <file>', "a YAML file shaped like config.yaml's batch: section")
    .option('--run-id <id>', 'resume this run (or start it under this id)')
    .option('--job <name>', 'runs of one job resume each other (default: the table name)')
    .option('--no-resume', "start a new run even if the job's last run was interrupted")
    .option('--takeover', 'take a run over even if its owner still looks alive')
    .option('--max-rejects <n|p%>', 'fail the run beyond this many rejected rows (or this share of the rows)')
    .option('--keep-runs <n>', "after a success, keep each key's newest n predictions (default: keep every run's)")
    .option('--batch-size <n>', "rows per request (default: the model's max_batch_size)")
    .option('--inflight <n>', 'requests in flight at once (default: 2 per model instance)')
    .option('--commit-rows <n>', 'commit at least every n rows (default 10000; and at least every second)')
    .option('--progress <mode>', 'auto (bar on a terminal, lines otherwise), bar, lines or none', 'auto')
    .option('--progress-interval <duration>', 'how often progress lines are printed', '10s')
    .option('--shard <i/N>', "this worker's part of the input, by key hash: 0/4 … 3/4 (the parts write one table, each key once)")
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'warn')
    .option('--json', 'print the summary as JSON');
}

function batchLogger(level: string | undefined): Logger {
  // Logs go to stderr so that stdout carries only the summary (or the CronJob YAML).
  return pino({ name: 'slipway', level: level ?? 'warn' }, pino.destination(2));
}

/** Loads only the model a job needs, even when --models names a whole repository. */
async function openModel(models: readonly string[], model: string, logger: Logger): Promise<Slipway> {
  const sources = await discoverModels(models);
  const source = sources.find((s) => s.name === model);
  if (source === undefined) {
    throw new ServingError('MODEL_NOT_FOUND', `no model '${model}' in ${models.join(', ')}; found: ${sources.map((s) => s.name).join(', ') || 'nothing'}`);
  }
  return Slipway.open({ models: [source.kind === 'folder' ? source.dir : source.file], logger });
}

function reporter(mode: string, intervalMs: number): ProgressReporter {
  if (mode === 'none') return silentProgress;
  if (mode === 'bar' || (mode === 'auto' && process.stderr.isTTY)) return barProgress(process.stderr);
  return lineProgress((line) => process.stderr.write(line), intervalMs);
}

const count = (n: number): string => n.toLocaleString('en-US');

export function formatSummary(s: BatchRunSummary): string {
  if (s.status === 'already-succeeded') {
    return `run ${s.runId} already succeeded (${count(s.rowsPredicted)} rows predicted into ${s.table}); nothing to do\n`;
  }
  const lines = [
    `run ${s.runId} ${s.status}: ${count(s.rowsRead)} rows read, ${count(s.rowsPredicted)} predicted, ${count(s.rowsRejected)} rejected` +
      (s.rowsRejected > 0 ? ` (reasons in ${s.table}_rejects)` : ''),
    `  ${count(s.attemptRows)} rows in ${(s.elapsedMs / 1000).toFixed(2)} s, ${count(s.rowsPerSecond)} rows/s${s.resumedFrom > 0 ? `, resumed at row ${count(s.resumedFrom)}` : ''}`,
    `  table ${s.table} in ${s.output}, model ${s.model} v${s.modelVersion}`,
  ];
  if (s.error !== undefined) lines.push(`  error: ${s.error}`);
  if (s.status === 'interrupted') lines.push(`  run the same command again to resume (or pass --run-id ${s.runId})`);
  return `${lines.join('\n')}\n`;
}

function exitCodeOf(summary: BatchRunSummary): number {
  if (summary.status === 'failed') return 1;
  if (summary.status === 'interrupted') return 130;
  return 0;
}

export function registerBatch(program: Command): void {
  const batch = program.command('batch').description('batch prediction into a database: run, schedule, check freshness');

  addRunOptions(batch.command('run').description('predict every row of an input and store the predictions in a table'))
    .option('--emit <target>', 'print a deployment of the job instead of running it: kubernetes (an Indexed Job, with --shards)')
    .option('--shards <n>', 'with --emit kubernetes: workers in the Indexed Job, each running --shard i/n', '1')
    .option('--image <image>', 'container image for --emit kubernetes', 'slipway:latest')
    .option('--namespace <namespace>', 'namespace for --emit kubernetes')
    .action(async (flags: BatchRunFlags & { emit?: string; shards: string; image: string; namespace?: string }) => {
    const { options, cli } = parseRunFlags(flags);
    const logger = batchLogger(flags.logLevel);
    if (flags.emit !== undefined) {
      const shards = Number(flags.shards);
      if (flags.emit !== 'kubernetes') throw new ServingError('CONFIG_INVALID', `--emit '${flags.emit}': the only target is kubernetes`);
      if (!Number.isInteger(shards) || shards < 1 || shards > 1000) throw new ServingError('CONFIG_INVALID', `--shards '${flags.shards}': expected a whole number from 1 to 1000`);
      if (flags.shard !== undefined) throw new ServingError('CONFIG_INVALID', '--shard and --emit: the Job gives each pod its own shard; pass --shards N instead');
      process.stdout.write(
        indexedJobYaml({
          name: options.job ?? options.table ?? `${options.model}-predictions`,
          shards,
          image: flags.image,
          ...(flags.namespace !== undefined && { namespace: flags.namespace }),
          runArgs: runFlagsToArgs(flags),
          output: options.output,
        }),
      );
      return;
    }
    const slipway = await openModel(cli.models, options.model, logger);
    const controller = new AbortController();
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) process.exit(130);
      process.stderr.write(`\n${signal}: stopping after the chunks in flight; the run can be resumed (a second signal exits at once)\n`);
      controller.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const summary = await runBatchJob(slipway, { ...options, progress: reporter(cli.progress, cli.progressIntervalMs), signal: controller.signal }, logger);
      process.stdout.write(flags.json === true ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
      process.exitCode = exitCodeOf(summary);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await slipway.close();
    }
  });

  addRunOptions(batch.command('schedule').description('run a batch job on a cron schedule, never overlapping itself'))
    .requiredOption('--cron <expression>', 'when to run: "0 * * * *" (hourly), "*/15 * * * *", "@daily", …')
    .option('--timezone <tz>', 'IANA time zone for the schedule (default: the machine’s)')
    .option('--run-now', 'also run once right away')
    .option('--emit <target>', 'print a deployment for the schedule instead of running it: kubernetes')
    .option('--image <image>', 'container image for --emit kubernetes', 'slipway:latest')
    .option('--namespace <namespace>', 'namespace for --emit kubernetes')
    .action(async (flags: BatchRunFlags & { cron: string; timezone?: string; runNow?: boolean; emit?: string; image: string; namespace?: string }) => {
      const { options, cli } = parseRunFlags(flags);
      const logger = batchLogger(flags.logLevel);
      if (flags.emit !== undefined) {
        if (flags.emit !== 'kubernetes') throw new ServingError('CONFIG_INVALID', `--emit '${flags.emit}': the only target is kubernetes`);
        // Validate the expression here too, so a typo fails now rather than in the cluster.
        new BatchSchedule(flags.cron, async () => undefined, { ...(flags.timezone !== undefined && { timezone: flags.timezone }) });
        process.stdout.write(
          cronJobYaml({
            name: options.job ?? options.table ?? `${options.model}-predictions`,
            schedule: flags.cron,
            ...(flags.timezone !== undefined && { timezone: flags.timezone }),
            image: flags.image,
            ...(flags.namespace !== undefined && { namespace: flags.namespace }),
            runArgs: runFlagsToArgs(flags),
            output: options.output,
          }),
        );
        return;
      }
      await runSchedule(flags.cron, flags.timezone, flags.runNow === true, options, cli, logger, flags.json === true);
    });

  batch
    .command('status')
    .description('how fresh each predictions table is; exits 1 when stale, 3 when the last run failed')
    // commander prints the default itself, from the third argument.
    .option('--output <url>', 'the batch database', DEFAULT_OUTPUT)
    .option('--table <name>', 'only this table')
    .option('--max-age <duration>', 'stale when the newest successful run is older than this: 30m, 2h, 1d')
    .option('--json', 'print JSON')
    .action(async (flags: { output: string; table?: string; maxAge?: string; json?: boolean }) => {
      let maxAgeMs: number | undefined;
      if (flags.maxAge !== undefined) {
        maxAgeMs = parseDuration(flags.maxAge);
        if (maxAgeMs === undefined) throw new ServingError('CONFIG_INVALID', `--max-age '${flags.maxAge}': expected a duration such as 30m, 2h or 1d`);
      }
      const store = await openStore(flags.output, { readonly: true });
      let health: TableHealth[];
      try {
        health = await tableHealth(store, { ...(flags.table !== undefined && { table: flags.table }), ...(maxAgeMs !== undefined && { maxAgeMs }) });
      } finally {
        await store.close();
      }
      const code = statusExitCode(health);
      process.stdout.write(flags.json === true ? `${JSON.stringify({ tables: health, exit_code: code })}\n` : formatHealth(health, flags.table));
      process.exitCode = code;
    });
}

export function formatHealth(health: readonly TableHealth[], table: string | undefined): string {
  if (health.length === 0) return table === undefined ? 'no batch runs recorded\n' : `no batch runs recorded for table '${table}'\n`;
  const lines: string[] = [];
  for (const h of health) {
    const age = h.age_seconds === null ? 'never succeeded' : `last success ${formatAge(h.age_seconds * 1000)} ago (${h.last_success!.rows_predicted.toLocaleString('en-US')} rows, model v${h.last_success!.model_version})`;
    lines.push(`${h.state.toUpperCase().padEnd(6)} ${h.table}: ${age}; last run ${h.last_run.id} ${h.last_run.status}`);
    for (const problem of h.problems) lines.push(`       ${problem}`);
  }
  return `${lines.join('\n')}\n`;
}

async function runSchedule(
  cron: string,
  timezone: string | undefined,
  runNow: boolean,
  options: Omit<BatchJobOptions, 'progress' | 'signal'>,
  cli: { models: string[]; progressIntervalMs: number },
  logger: Logger,
  json: boolean,
): Promise<void> {
  const slipway = await openModel(cli.models, options.model, logger);
  let controller = new AbortController();
  const schedule = new BatchSchedule(
    cron,
    async (scheduledAt) => {
      controller = new AbortController();
      const summary = await runBatchJob(
        slipway,
        { ...options, progress: lineProgress((line) => process.stderr.write(line), cli.progressIntervalMs), signal: controller.signal },
        logger,
      );
      process.stdout.write(json ? `${JSON.stringify({ scheduled_at: scheduledAt.toISOString(), ...summary })}\n` : formatSummary(summary));
    },
    {
      ...(timezone !== undefined && { timezone }),
      events: {
        onStart: (at) => process.stderr.write(`${new Date().toISOString()} starting the run scheduled for ${at.toISOString()}\n`),
        onSkip: (at, since) =>
          process.stderr.write(`${new Date().toISOString()} skipped the run scheduled for ${at.toISOString()}: the run started at ${since.toISOString()} is still going\n`),
        onEnd: (_at, error) => {
          if (error !== undefined) process.stderr.write(`${new Date().toISOString()} run failed: ${(error as Error).message}\n`);
          const next = schedule.nextRunAt();
          if (next !== undefined) process.stderr.write(`next run at ${next.toISOString()}\n`);
        },
      },
    },
  );
  schedule.start(runNow);
  process.stderr.write(`scheduled '${cron}'${timezone ? ` (${timezone})` : ''}; next run at ${schedule.nextRunAt()?.toISOString() ?? 'never'}\n`);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`${signal}: stopping the schedule${schedule.isRunning ? ' after the run in progress is interrupted (it can be resumed)' : ''}\n`);
      controller.abort();
      void schedule.stop().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await slipway.close();
}
