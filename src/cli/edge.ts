import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadModelConfigFile } from '../config/load-model-config.js';
import { ServingError } from '../errors/serving-error.js';
import { measureInChromium } from '../edge/chromium-latency.js';
import { buildEdgeBundle } from '../edge/edge-bundle.js';
import { EDGE_REPORT_FILE } from '../edge/edge-manifest.js';
import { edgeReport, formatEdgeReport } from '../edge/edge-report.js';
import { discoverModels, type ModelSource } from '../repository/discover.js';
import { Slipway } from '../slipway.js';

interface EdgeFlags {
  out: string;
  models: string[];
  server?: string;
  latencyBudgetMs?: string;
  latencyWindow?: string;
  webgpu: boolean;
  measure: boolean;
  chromium?: string;
  runs: string;
  json?: boolean;
}

function positiveNumber(flag: string, value: string | undefined, integer = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new ServingError('CONFIG_INVALID', `${flag} ${value}: expected a positive ${integer ? 'integer' : 'number'}`);
  }
  return n;
}

/**
 * The folders to load: the model's own, and the sibling folders of the models its config.yaml
 * lists under edge.models (a pipeline's steps), found among `--models` or beside the model.
 */
async function modelsToLoad(target: string, flags: EdgeFlags): Promise<{ name: string; paths: string[] }> {
  let source: ModelSource;
  let candidates: ModelSource[];
  if (existsSync(target)) {
    const found = await discoverModels([target]);
    if (found.length !== 1) throw new ServingError('CONFIG_INVALID', `${target} holds ${found.length} models: name one (slipway edge <name> --models ${target})`);
    source = found[0]!;
    const around = flags.models.length > 0 ? flags.models : [dirname(resolve(target))];
    candidates = await discoverModels(around).catch(() => []);
  } else {
    candidates = await discoverModels(flags.models.length > 0 ? flags.models : ['.']);
    const found = candidates.find((c) => c.name === target);
    if (found === undefined) throw new ServingError('CONFIG_INVALID', `no model '${target}' in ${(flags.models.length > 0 ? flags.models : ['.']).join(', ')} (found: ${candidates.map((c) => c.name).join(', ') || 'none'})`);
    source = found;
  }
  const where = (s: ModelSource): string => (s.kind === 'folder' ? s.dir : s.file);
  const paths = [where(source)];
  if (source.kind === 'folder') {
    const config = await loadModelConfigFile(join(source.dir, 'config.yaml'));
    for (const name of config.edge?.models ?? []) {
      const dependency = candidates.find((c) => c.name === name);
      if (dependency === undefined) {
        throw new ServingError('CONFIG_INVALID', `edge.models of '${source.name}' names '${name}', which is not in ${dirname(source.dir)} (pass the folder holding it with --models)`);
      }
      if (!paths.includes(where(dependency))) paths.push(where(dependency));
    }
  }
  return { name: source.name, paths };
}

export function registerEdge(program: Command): void {
  program
    .command('edge')
    .description('write a static browser bundle of a model (onnxruntime-web, its handler, the UI page) that falls back to the server')
    .argument('<model>', "a model folder or .onnx file, or a model's name in --models")
    .requiredOption('-o, --out <dir>', 'folder to write the bundle to (an earlier bundle there is replaced)')
    .option('--models <paths...>', 'repositories holding the model and the models it calls (default: the folder around <model>, or .)', [])
    .option('--server <url>', 'the Slipway server to fall back to, absolute or relative to the bundle (default: none)')
    .option('--latency-budget-ms <ms>', 'fall back once the median on-device latency of the last calls exceeds this (default: config.yaml edge.latency_budget_ms)')
    .option('--latency-window <n>', 'calls that median is taken over (default: edge.latency_window, else 5)')
    .option('--no-webgpu', "ship only onnxruntime-web's wasm build (no WebGPU)")
    .option('--no-measure', 'do not time the bundle in Chromium (sizes only)')
    .option('--chromium <path>', 'the Chromium to time it in (default: SLIPWAY_CHROMIUM, else /usr/bin/chromium)')
    .option('--runs <n>', 'timed calls per execution provider', '30')
    .option('--json', 'print the report as JSON')
    .action(async (target: string, flags: EdgeFlags) => {
      const latencyBudgetMs = positiveNumber('--latency-budget-ms', flags.latencyBudgetMs);
      const latencyWindow = positiveNumber('--latency-window', flags.latencyWindow, true);
      const runs = positiveNumber('--runs', flags.runs, true)!;
      const { name, paths } = await modelsToLoad(target, flags);
      const slipway = await Slipway.open({ models: paths, cores: 1 });
      try {
        const out = resolve(flags.out);
        const bundle = await buildEdgeBundle(slipway, name, {
          out,
          webgpu: flags.webgpu,
          ...(flags.server !== undefined && { server: flags.server }),
          ...(latencyBudgetMs !== undefined && { latencyBudgetMs }),
          ...(latencyWindow !== undefined && { latencyWindow }),
        });
        const latency = flags.measure
          ? await measureInChromium(out, bundle.manifest, { runs, ...(flags.chromium !== undefined && { executablePath: flags.chromium }) })
          : { runs: [], skipped: '--no-measure' };
        const report = edgeReport(bundle, latency);
        await writeFile(join(out, EDGE_REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatEdgeReport(report)}\n  report: ${join(out, EDGE_REPORT_FILE)}\n`);
      } finally {
        await slipway.close();
      }
    });
}
