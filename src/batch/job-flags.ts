import { z } from 'zod';
import { ServingError } from '../errors/serving-error.js';
import type { BatchJobOptions } from './batch-job.js';
import { parseDuration } from '../config/duration.js';
import { parseShard, type Shard } from './shard.js';
import { DEFAULT_OUTPUT } from './sinks/open-store.js';

/** Flags of `slipway batch run` as commander hands them over (strings, lists, booleans). */
export interface BatchRunFlags {
  models?: string[];
  model?: string;
  input?: string[];
  query?: string;
  format?: string;
  delimiter?: string;
  output?: string;
  table?: string;
  key?: string;
  map?: string[];
  outputColumn?: string[];
  labels?: string;
  mapping?: string;
  runId?: string;
  job?: string;
  resume?: boolean;
  takeover?: boolean;
  maxRejects?: string;
  keepRuns?: string;
  batchSize?: string;
  inflight?: string;
  commitRows?: string;
  progress?: string;
  progressInterval?: string;
  logLevel?: string;
  json?: boolean;
  shard?: string;
}

const positiveInt = z.coerce.number().int().positive();

const flagsSchema = z.object({
  models: z.array(z.string().min(1)).min(1),
  model: z
    .string({ error: 'required: the model to run, as NAME or NAME:VERSION' })
    .regex(/^[A-Za-z0-9_.-]+(:[1-9][0-9]*)?$/, 'expected NAME or NAME:VERSION (e.g. digits or digits:2)'),
  input: z.array(z.string().min(1)).optional(),
  query: z.string().min(1).optional(),
  format: z.enum(['csv', 'jsonl']).optional(),
  delimiter: z
    .string()
    .transform((d) => (d === '\\t' || d === 'tab' ? '\t' : d))
    .pipe(z.string().length(1, 'expected one character (or \\t)'))
    .optional(),
  output: z.string().min(1).default(DEFAULT_OUTPUT),
  table: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  map: z.array(z.string()).default([]),
  outputColumn: z.array(z.string()).default([]),
  labels: z.string().min(1).optional(),
  mapping: z.string().min(1).optional(),
  runId: z.string().regex(/^[A-Za-z0-9_.:@-]{1,200}$/, 'letters, digits and _ . : @ - only, at most 200').optional(),
  job: z.string().min(1).max(200).optional(),
  resume: z.boolean().default(true),
  takeover: z.boolean().default(false),
  maxRejects: z
    .string()
    .regex(/^(\d+|\d+(\.\d+)?%)$/, 'expected a count (100) or a percentage of the rows read (5%)')
    .optional(),
  keepRuns: positiveInt.optional(),
  batchSize: positiveInt.optional(),
  inflight: positiveInt.max(256).optional(),
  commitRows: positiveInt.optional(),
  progress: z.enum(['auto', 'bar', 'lines', 'none']).default('auto'),
  shard: z.string().optional(),
  progressInterval: z
    .string()
    .refine((s) => parseDuration(s) !== undefined, 'expected a duration such as 10s or 1m')
    .default('10s'),
});

/** What the CLI needs besides the job options. */
export interface RunCliSettings {
  models: string[];
  progress: 'auto' | 'bar' | 'lines' | 'none';
  progressIntervalMs: number;
}

const FLAG_NAMES: Record<string, string> = {
  outputColumn: '--output-column',
  runId: '--run-id',
  maxRejects: '--max-rejects',
  keepRuns: '--keep-runs',
  batchSize: '--batch-size',
  commitRows: '--commit-rows',
  progressInterval: '--progress-interval',
};

const flagName = (key: string): string => FLAG_NAMES[key] ?? `--${key}`;

/**
 * Validates `batch run` flags once, reporting every problem with the flag it concerns, and turns
 * them into job options.
 */
export function parseRunFlags(flags: BatchRunFlags): { options: Omit<BatchJobOptions, 'progress' | 'signal'>; cli: RunCliSettings } {
  const result = flagsSchema.safeParse({ ...flags, models: flags.models ?? ['models'] });
  const problems: string[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? '');
      problems.push(`${flagName(key)}: ${issue.message}`);
    }
  }
  const hasInput = flags.input !== undefined && flags.input.length > 0;
  if (!hasInput && flags.query === undefined) problems.push('--input or --query: give one (files or globs, or a SELECT against the output database)');
  if (hasInput && flags.query !== undefined) problems.push('--input and --query: give one, not both');
  let shard: Shard | undefined;
  if (flags.shard !== undefined) {
    try {
      shard = parseShard(flags.shard);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new ServingError('CONFIG_INVALID', `invalid batch options:\n  ${problems.join('\n  ')}`);
  }
  const f = result.data;
  const [model, version] = f.model.split(':') as [string, string | undefined];
  const rejects = f.maxRejects;
  return {
    options: {
      model,
      ...(version !== undefined && { version }),
      ...(f.input !== undefined && f.input.length > 0 && { input: f.input }),
      ...(f.query !== undefined && { query: f.query }),
      ...(f.format !== undefined && { format: f.format }),
      ...(f.delimiter !== undefined && { delimiter: f.delimiter }),
      output: f.output,
      ...(f.table !== undefined && { table: f.table }),
      mapping: {
        ...(f.key !== undefined && { key: f.key }),
        map: f.map,
        outputColumns: f.outputColumn,
        ...(f.labels !== undefined && { labels: f.labels }),
        ...(f.mapping !== undefined && { mappingFile: f.mapping }),
      },
      ...(f.runId !== undefined && { runId: f.runId }),
      ...(f.job !== undefined && { job: f.job }),
      resume: f.resume,
      takeover: f.takeover,
      ...(rejects !== undefined && (rejects.endsWith('%') ? { maxRejectFraction: Number(rejects.slice(0, -1)) / 100 } : { maxRejects: Number(rejects) })),
      ...(f.keepRuns !== undefined && { keepRuns: f.keepRuns }),
      ...(f.batchSize !== undefined && { batchSize: f.batchSize }),
      ...(f.inflight !== undefined && { inflight: f.inflight }),
      ...(f.commitRows !== undefined && { commitRows: f.commitRows }),
      ...(shard !== undefined && { shard }),
    },
    cli: { models: f.models, progress: f.progress, progressIntervalMs: parseDuration(f.progressInterval)! },
  };
}

/** The flags again as arguments (for the Kubernetes CronJob that runs the same job). */
export function runFlagsToArgs(flags: BatchRunFlags): string[] {
  const args: string[] = [];
  const one = (name: string, value: string | undefined): void => {
    if (value !== undefined) args.push(name, value);
  };
  for (const m of flags.models ?? []) args.push('--models', m);
  one('--model', flags.model);
  if (flags.input !== undefined && flags.input.length > 0) args.push('--input', ...flags.input);
  one('--query', flags.query);
  one('--format', flags.format);
  one('--delimiter', flags.delimiter);
  one('--output', flags.output ?? DEFAULT_OUTPUT);
  one('--table', flags.table);
  one('--key', flags.key);
  for (const m of flags.map ?? []) args.push('--map', m);
  for (const c of flags.outputColumn ?? []) args.push('--output-column', c);
  one('--labels', flags.labels);
  one('--mapping', flags.mapping);
  one('--job', flags.job);
  one('--max-rejects', flags.maxRejects);
  one('--keep-runs', flags.keepRuns);
  one('--batch-size', flags.batchSize);
  one('--inflight', flags.inflight);
  one('--commit-rows', flags.commitRows);
  one('--shard', flags.shard);
  args.push('--progress', 'lines');
  return args;
}
