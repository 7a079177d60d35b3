import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { SlipwayHttpClient } from '../client/http-client.js';
import { startRollout } from '../client/rollout.js';
import { ServingError } from '../errors/serving-error.js';
import { optimizeModel, type OptimizeMethod, type OptimizeOptions } from '../optimize/optimize-model.js';
import { formatReport } from '../optimize/optimize-report.js';
import { parseShapes } from './bench.js';
import { action, rolloutFromFlags, targetOf, UsageError } from './rollout.js';

interface OptimizeFlags {
  int8?: boolean;
  fp16?: boolean;
  static?: boolean;
  calibration?: string[];
  calibrate: string;
  percentile?: string;
  calibrationRows?: string;
  perChannel?: boolean;
  reduceRange?: boolean;
  opTypes?: string;
  weightType: string;
  excludeNodes?: string;
  keepIoTypes: boolean;
  fp16BlockOps?: string;
  fp16BlockNodes?: string;
  eval?: string[];
  label?: string;
  map?: string[];
  sourceVersion?: string;
  bench: boolean;
  benchSeconds: string;
  batchSizes: string;
  shape: string[];
  json?: boolean;
  canary?: boolean;
  url: string;
  token?: string;
  servedAs?: string;
  canarySteps?: string;
  canaryInterval?: string;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
const list = (text: string | undefined): string[] | undefined => text?.split(',').map((s) => s.trim()).filter((s) => s !== '');
const invalid = (message: string): ServingError => new ServingError('CONFIG_INVALID', message);

function positive(text: string, flag: string, integer = false): number {
  const n = Number(text);
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw invalid(`${flag} ${text}: expected a positive ${integer ? 'integer' : 'number'}`);
  return n;
}

/** Turns the flags into options for `optimizeModel`; every mistake is reported before any work starts. */
export function optionsFromFlags(modelDir: string, flags: OptimizeFlags): OptimizeOptions {
  if ((flags.int8 === true) === (flags.fp16 === true)) throw invalid('give exactly one of --int8 or --fp16');
  if (flags.static === true && flags.int8 !== true) throw invalid('--static applies to --int8');
  if (flags.calibration !== undefined && flags.static !== true) throw invalid('--calibration applies to --int8 --static');
  if (!['minmax', 'percentile'].includes(flags.calibrate)) throw invalid(`--calibrate ${flags.calibrate}: expected minmax or percentile`);
  if (!['int8', 'uint8'].includes(flags.weightType)) throw invalid(`--weight-type ${flags.weightType}: expected int8 or uint8`);
  if (flags.label !== undefined && flags.eval === undefined) throw invalid('--label names the class column of the --eval files; give --eval too');
  const method: OptimizeMethod = flags.fp16 === true ? 'fp16' : flags.static === true ? 'int8-static' : 'int8-dynamic';
  const percentile = flags.percentile === undefined ? undefined : positive(flags.percentile, '--percentile');
  if (percentile !== undefined && (percentile > 100 || flags.calibrate !== 'percentile')) throw invalid('--percentile takes a value up to 100, with --calibrate percentile');
  const opTypes = list(flags.opTypes);
  const excludeNodes = list(flags.excludeNodes);
  const fp16BlockOps = list(flags.fp16BlockOps);
  const fp16BlockNodes = list(flags.fp16BlockNodes);
  const batchSizes = list(flags.batchSizes)!.map((b) => positive(b, '--batch-sizes', true));
  const recorded: Record<string, unknown> = { method };
  for (const [key, value] of Object.entries(flags)) if (value !== undefined && key !== 'json') recorded[key] = value;
  return {
    modelDir,
    method,
    ...(opTypes && { opTypes }),
    perChannel: flags.perChannel === true,
    reduceRange: flags.reduceRange === true,
    weightType: flags.weightType as 'int8' | 'uint8',
    ...(excludeNodes && { excludeNodes }),
    ...(flags.calibration && { calibration: flags.calibration }),
    calibrationMethod: flags.calibrate as 'minmax' | 'percentile',
    ...(percentile !== undefined && { percentile }),
    ...(flags.calibrationRows !== undefined && { calibrationRows: positive(flags.calibrationRows, '--calibration-rows', true) }),
    keepIoTypes: flags.keepIoTypes,
    ...(fp16BlockOps && { fp16BlockOps }),
    ...(fp16BlockNodes && { fp16BlockNodes }),
    ...(flags.eval && { eval: flags.eval }),
    ...(flags.label !== undefined && { label: flags.label }),
    ...(flags.map && { map: flags.map }),
    ...(flags.sourceVersion !== undefined && { sourceVersion: positive(flags.sourceVersion, '--source-version', true) }),
    bench: flags.bench,
    benchSeconds: positive(flags.benchSeconds, '--bench-seconds'),
    batchSizes,
    shapes: parseShapes(flags.shape),
    recordedOptions: recorded,
  };
}

export function registerOptimize(program: Command): void {
  program
    .command('optimize')
    .description('write an int8 or fp16 copy of a model as its next version, with a size, speed and accuracy report')
    .argument('<model>', 'the model folder (holding <version>/model.onnx)')
    .option('--int8', 'int8 quantization: dynamic (onnxruntime quantize_dynamic rules) unless --static')
    .option('--fp16', 'float16 weights and compute, float32 inputs and outputs')
    .option('--static', 'static int8 (QDQ), with activation ranges from --calibration')
    .option('--calibration <files...>', 'calibration rows: CSV, TSV or JSON Lines files or globs, as slipway batch reads')
    .option('--calibrate <method>', 'minmax or percentile', 'minmax')
    .option('--percentile <p>', 'for --calibrate percentile (default 99.999)')
    .option('--calibration-rows <n>', 'rows of calibration data to use (default 512)')
    .option('--per-channel', 'one weight scale per output channel')
    .option('--reduce-range', '7-bit weights, for CPUs without VNNI')
    .option('--op-types <list>', 'op types to quantize (dynamic: MatMul,Gemm by default, Conv too if listed; static: Conv,MatMul,Gemm)')
    .option('--weight-type <type>', 'dynamic int8 weight type: int8 or uint8', 'int8')
    .option('--exclude-nodes <list>', 'node names to leave in float')
    .option('--no-keep-io-types', 'fp16: make the graph inputs and outputs float16 too')
    .option('--fp16-block-ops <list>', "fp16: op types kept in float32 (default onnxconverter-common's block list)")
    .option('--fp16-block-nodes <list>', 'fp16: node names kept in float32')
    .option('--eval <files...>', 'held-out rows to compare the two versions on (CSV, TSV or JSON Lines)')
    .option('--label <column>', 'the column of --eval holding the true class index, for accuracy')
    .option('--map <input=columns>', 'columns feeding an input, as slipway batch --map (repeatable)', collect)
    .option('--source-version <v>', 'the version to start from (default: the newest)')
    .option('--no-bench', 'skip the speed measurement')
    .option('--bench-seconds <s>', 'seconds per measured point, per version', '2')
    .option('--batch-sizes <list>', 'batch sizes for the throughput measurement', '1,8,32,64')
    .option('--shape <name:dims>', 'shape for an input with variable dims, e.g. x:1,3,48,320 (repeatable)', collect, [])
    .option('--json', 'print the report as JSON')
    .option('--canary', 'then load the new version on a running server (--url) and start a canary rollout of it')
    .option('-u, --url <url>', 'with --canary: the server (env SLIPWAY_URL)', process.env.SLIPWAY_URL ?? 'http://127.0.0.1:8000')
    .option('--token <token>', 'with --canary: the admin token (env SLIPWAY_ADMIN_TOKEN)')
    .option('--served-as <name>', "with --canary: the model's name on the server (default: the folder's name)")
    .option('--canary-steps <percents>', "with --canary: the candidate's share at each step (default 10,25,50,100)")
    .option('--canary-interval <time>', 'with --canary: how long each step runs before it is judged (default 1m)')
    .action(
      action(async (model: string, flags: OptimizeFlags) => {
        const options = optionsFromFlags(model, flags);
        if (flags.canary !== true && (flags.servedAs ?? flags.canarySteps ?? flags.canaryInterval) !== undefined) {
          throw invalid('--served-as, --canary-steps and --canary-interval apply to --canary');
        }
        const { report, versionDir } = await optimizeModel({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
        if (flags.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else process.stdout.write(`${formatReport(report)}wrote ${versionDir}/ (model and optimize-report.json)\n`);
        if (flags.canary === true) await startCanary(flags.servedAs ?? basename(resolve(model)), report.version, flags);
      }),
    );
}

/**
 * `--canary`: the server loads the new version beside the ones it serves (a repository load reloads
 * only what changed), then a rollout moves traffic to it step by step and rolls back on its own if
 * it does worse than the float version. The model's version_policy must keep both versions loaded.
 */
async function startCanary(model: string, version: number, flags: OptimizeFlags): Promise<void> {
  const target = targetOf(flags);
  const rollout = rolloutFromFlags({
    url: flags.url,
    to: String(version),
    ...(flags.canarySteps !== undefined && { steps: flags.canarySteps }),
    ...(flags.canaryInterval !== undefined && { interval: flags.canaryInterval }),
  });
  const client = new SlipwayHttpClient(target.url, { retries: 2, ...(target.token !== undefined && { adminToken: target.token, apiKey: target.token }) });
  await client.loadModel(model);
  if (!(await client.modelReady(model, String(version)))) {
    throw new UsageError(
      `the server at ${target.url} did not load version ${version} of '${model}' (is it serving this folder, and does its version_policy keep the new version, e.g. latest: { num_versions: 2 }?)`,
    );
  }
  const status = await startRollout(target, model, rollout);
  const started = status.rollout;
  process.stdout.write(
    `canary: rollout ${started?.id ?? ''} of '${model}' v${started?.spec.from ?? '?'} → v${version} started on ${target.url}; follow it with \`slipway rollout status ${model}\`\n`,
  );
}
