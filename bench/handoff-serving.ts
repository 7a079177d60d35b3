// Issue 17, lever 2, end to end: Slipway serving a microsecond model (digits_linear) and the digits
// CNN at 64 connections with `instance_group.handoff: message` against `shared`, both servers up
// for the whole run and visited in the same interleaved rounds (see generators.ts). Prints markdown.
// Usage: node dist/bench/handoff-serving.js [--seconds 5] [--rounds 3]
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeLatencies } from '../src/loadgen/latency-summary.js';
import { compareGenerators, meanOf, type Generator } from './generators.js';
import { numberArg, ROOT } from './results-section.js';
import { startServer } from './server-process.js';

const SECONDS = numberArg('--seconds', 5);
const ROUNDS = numberArg('--rounds', 3);
const USED: Generator[] = ['wrk', 'undici'];

async function repoWith(model: string, config: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-'));
  await mkdir(join(dir, model, '1'), { recursive: true });
  await symlink(join(ROOT, 'examples/models', model, '1/model.onnx'), join(dir, model, '1/model.onnx'));
  await writeFile(join(dir, model, 'config.yaml'), config);
  return dir;
}

const samples = JSON.parse(await readFile(join(ROOT, 'examples/models/digits/samples.json'), 'utf8')) as Array<{ image: number[][][] }>;
const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: samples[3]!.image }] }));
const out: string[] = [];
for (const model of ['digits_linear', 'digits']) {
  const repos = { message: await repoWith(model, 'instance_group: { handoff: message }\n'), shared: await repoWith(model, 'instance_group: { handoff: shared }\n') };
  const load = [loadavg()[0]!];
  const names = { message: `${model}, handoff: message`, shared: `${model}, handoff: shared` };
  const g = await compareGenerators({
    contenders: (['message', 'shared'] as const).map((h) => ({
      name: names[h],
      start: () => startServer(`${ROOT}dist/src/cli/main.js`, ['serve', repos[h], '--http-port', '0', '--grpc-port', '0', '--log-level', 'info']),
    })),
    model,
    body,
    connections: 64,
    seconds: SECONDS,
    rounds: ROUNDS,
    liveOf: [names.message, names.shared],
    generators: USED,
  });
  load.push(loadavg()[0]!);
  await Promise.all(Object.values(repos).map((dir) => rm(dir, { recursive: true, force: true })));
  out.push(`**${model}**, 64 connections, ${ROUNDS} interleaved rounds × ${SECONDS} s, load average ${load.map((l) => l.toFixed(1)).join(' → ')}:`, '');
  out.push('| generator | message infer/s | p99 ms | shared infer/s | p99 ms | shared ÷ message | per round |', '|---|---|---|---|---|---|---|');
  for (const gen of USED) {
    const m = meanOf(g, names.message, gen);
    const s = meanOf(g, names.shared, gen);
    if (m === undefined || s === undefined) continue;
    const perRound = g.runs.get(names.shared)!.get(gen)!.map((x, i) => (x.perSecond / g.runs.get(names.message)!.get(gen)![i]!.perSecond).toFixed(2));
    out.push(`| ${gen} | ${m.perSecond.toFixed(0)} | ${m.p99Ms.toFixed(1)} | ${s.perSecond.toFixed(0)} | ${s.p99Ms.toFixed(1)} | ${(s.perSecond / m.perSecond).toFixed(2)} | ${perRound.join(', ')} |`);
  }
  for (const [name, ms] of g.liveMs) if (ms.length > 0) out.push('', `Liveness under wrk, ${name}: ${ms.length} probes, p99 ${summarizeLatencies(ms).p99Ms.toFixed(1)} ms.`);
  out.push('');
  console.log(out.join('\n'));
  out.length = 0;
}
