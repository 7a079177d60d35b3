// What a tensor handler costs as a graph step, against calling it yourself: the same calls made by a
// graph and directly through the library, in one run, rounds alternating so both see the same machine.
// Usage: npm run bench:tensor-handlers [-- --seconds 2 --rounds 3]
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Slipway } from '../src/slipway.js';
import type { InferenceRequest } from '../src/tensor/inference.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { measureAlternating } from './measure-calls.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples/models');
const { values: flags } = parseArgs({ options: { seconds: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } } });
const SECONDS = Number(flags.seconds);
const ROUNDS = Number(flags.rounds);

// The examples as `npm start` serves them, but digits without its JSON handler (not used here), and
// `slipway` resolvable from the copied handler, as an installed package would be.
const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-tensor-handlers-'));
await mkdir(join(dir, 'node_modules'));
await symlink(ROOT, join(dir, 'node_modules', 'slipway'), 'dir');
await mkdir(join(dir, 'digits', '1'), { recursive: true });
await cp(join(EXAMPLES, 'digits', '1', 'model.onnx'), join(dir, 'digits', '1', 'model.onnx'), { dereference: true });
await cp(join(EXAMPLES, 'digits', 'config.yaml'), join(dir, 'digits', 'config.yaml'));
await cp(join(EXAMPLES, 'digits_topk'), join(dir, 'digits_topk'), { recursive: true });
await cp(join(EXAMPLES, 'digits_top3'), join(dir, 'digits_top3'), { recursive: true });
// The handler alone as a one-step graph: what the step itself adds, with no model call around it.
await mkdir(join(dir, 'topk_step'));
await writeFile(
  join(dir, 'topk_step', 'inference-graph.yaml'),
  'apiVersion: serving.kserve.io/v1alpha1\nkind: InferenceGraph\nspec:\n  nodes:\n    root:\n      routerType: Sequence\n      steps:\n      - { serviceName: digits_topk }\n',
);

const slipway = await Slipway.open({ models: dir, metrics: false });
const heldout = JSON.parse(await readFile(join(EXAMPLES, 'digits_ensemble', 'heldout.json'), 'utf8')) as { images: number[][] };
const image: Tensor = { name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: Float32Array.from(heldout.images[0]!) };
const probabilities = (await slipway.infer({ model: 'digits', inputs: [image] })).outputs[0]!;

interface Workload {
  name: string;
  graph: () => Promise<unknown>;
  direct: () => Promise<unknown>;
}

const infer = (request: InferenceRequest) => slipway.infer(request);
const workloads: Workload[] = [
  {
    name: 'one-step Sequence → `digits_topk` vs `digits_topk` (FP32[1,10])',
    graph: () => infer({ model: 'topk_step', inputs: [probabilities] }),
    direct: () => infer({ model: 'digits_topk', inputs: [probabilities] }),
  },
  {
    name: '`digits_top3` (digits → digits_topk) vs the two calls (FP32[1,1,8,8])',
    graph: () => infer({ model: 'digits_top3', inputs: [image] }),
    direct: async () => {
      const first = await infer({ model: 'digits', inputs: [image] });
      return infer({ model: 'digits_topk', inputs: [first.outputs[0]!] });
    },
  },
];

const rows: string[] = [];
const loadBefore = loadavg()[0]!;
for (const workload of workloads) {
  for (const clients of [1, 8]) {
    const { a: g, b: d } = await measureAlternating(workload.graph, workload.direct, clients, SECONDS, ROUNDS);
    rows.push(
      `| ${workload.name} | ${clients} | ${d.perSecond.toFixed(0)} | ${g.perSecond.toFixed(0)} | ${d.meanUs.toFixed(0)} | ${g.meanUs.toFixed(0)} | ${(g.meanUs - d.meanUs).toFixed(0)} | ${(g.meanUs / d.meanUs).toFixed(3)} | ${d.cpuUs.toFixed(0)} | ${g.cpuUs.toFixed(0)} | ${(g.cpuUs / d.cpuUs).toFixed(3)} |`,
    );
  }
}
const loadAfter = loadavg()[0]!;
await slipway.close();
await rm(dir, { recursive: true, force: true });

const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
const block = `<!-- bench:tensor-handlers -->

## Tensor handlers as graph steps (\`npm run bench:tensor-handlers\`)

${availableParallelism()} cores (${cpu}), Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z. Library API in one
process, closed loop, ${SECONDS} s per point, medians of ${ROUNDS} rounds alternating graph and direct. \`digits_topk\` is
the example tensor handler (TypeScript in a worker thread, one worker); "direct" makes the same calls through
\`Slipway.infer\` itself. Load average ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after: the machine was shared
with other work, so the wall-clock columns carry its noise; the CPU columns (process CPU time per call) are steadier.

| workload | clients | direct calls/s | graph calls/s | direct µs | graph µs | graph − direct µs | graph ÷ direct | direct CPU µs/call | graph CPU µs/call | CPU graph ÷ direct |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Reading it: a handler step is called through the router like a model step (the graph's request, then
the step's); its input tensors are copied once into the handler's worker and its outputs moved back,
never serialised. The CPU columns are the figures to read on a loaded machine: the graph adds a few µs
of CPU per call around a handler step (the graph's own request and its walk over the plan), the same
per-step work as for an ONNX step (see the pipelines section above), not a cost particular to
handlers. With a load average several times the core count, the wall-clock columns swing either way
from round to round (the graph even comes out faster in some rows) and say little.
<!-- bench:tensor-handlers -->`;
console.log(block);
const resultsPath = join(ROOT, 'bench/RESULTS.md');
const previous = await readFile(resultsPath, 'utf8');
const marker = '<!-- bench:tensor-handlers -->';
await writeFile(resultsPath, previous.includes(marker) ? previous.replace(new RegExp(`${marker}[\\s\\S]*${marker}`), block) : `${previous.trimEnd()}\n\n${block}\n`);
