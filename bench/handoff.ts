// Issue 17, lever 2: what one batch's trip to a model instance and back costs with each hand-off
// (`message`: a postMessage each way; `shared`: SharedArrayBuffer slots woken with Atomics), on a
// microsecond model and on the digits CNN. Both hand-offs run in the same interleaved rounds, one
// caller at a time, so the figure is the hop itself, not queueing. Prints a markdown table.
// Usage: node dist/bench/handoff.js [--rounds 6] [--calls 1500]
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ModelInstance } from '../src/runtime/model-instance.js';
import type { Handoff } from '../src/runtime/worker-messages.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { median } from './measure-calls.js';
import { numberArg, ROOT } from './results-section.js';

const ROUNDS = numberArg('--rounds', 6);
const CALLS = numberArg('--calls', 1500);
const HANDOFFS: Handoff[] = ['message', 'shared'];
const MODELS = ['digits_linear', 'digits'];
const BATCHES = [1, 16, 64];

interface Sample {
  /** Round trip seen by the caller, µs. */
  tripUs: number[];
  /** Round trip less the worker's own run: the two hops and their (de)serialisation, µs. */
  hopUs: number[];
  /** Process CPU (main thread + worker) per call, µs. */
  cpuUs: number[];
}

const inputs = (batch: number): Tensor[] => [
  { name: 'image', datatype: 'FP32', shape: [batch, 1, 8, 8], data: Float32Array.from({ length: batch * 64 }, (_, i) => (i * 7919) % 17) },
];

async function measure(instance: ModelInstance, batch: number, into: Sample): Promise<void> {
  const feeds = inputs(batch);
  for (let i = 0; i < 100; i++) await instance.infer(feeds, ['probabilities'], false);
  const trips: number[] = [];
  const hops: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.timeOrigin + performance.now();
    const { startedMs, endedMs } = await instance.infer(feeds, ['probabilities'], false);
    const t1 = performance.timeOrigin + performance.now();
    trips.push((t1 - t0) * 1000);
    hops.push((t1 - t0 - (endedMs - startedMs)) * 1000);
  }
  const used = process.cpuUsage(cpu);
  into.tripUs.push(median(trips));
  into.hopUs.push(median(hops));
  into.cpuUs.push((used.user + used.system) / CALLS);
}

const loadBefore = loadavg()[0]!;
const results = new Map<string, Sample>();
const key = (model: string, batch: number, handoff: Handoff) => `${model}|${batch}|${handoff}`;
for (const model of MODELS) {
  const modelPath = join(ROOT, 'examples/models', model, '1/model.onnx');
  const instances = new Map<Handoff, ModelInstance>();
  for (const handoff of HANDOFFS) instances.set(handoff, await ModelInstance.start({ platform: 'onnxruntime_onnx', modelPath, intraOpThreads: 1, handoff }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const batch of BATCHES) {
      // Alternate which goes first, so neither always follows the other's warm caches.
      const order = round % 2 === 0 ? HANDOFFS : [...HANDOFFS].reverse();
      for (const handoff of order) {
        const sample = results.get(key(model, batch, handoff)) ?? { tripUs: [], hopUs: [], cpuUs: [] };
        results.set(key(model, batch, handoff), sample);
        await measure(instances.get(handoff)!, batch, sample);
      }
    }
  }
  await Promise.all([...instances.values()].map((i) => i.close()));
}

const fmt = (n: number) => n.toFixed(1);
const lines = [
  `Hop micro-benchmark (\`node dist/bench/handoff.js\`), ${new Date().toISOString()}, ${ROUNDS} interleaved rounds × ${CALLS} sequential calls, medians of the per-round medians; load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}.`,
  '',
  '| model | batch | message: trip µs | hops µs | CPU µs/call | shared: trip µs | hops µs | CPU µs/call | shared ÷ message hops | trip | CPU |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];
for (const model of MODELS) {
  for (const batch of BATCHES) {
    const m = results.get(key(model, batch, 'message'))!;
    const s = results.get(key(model, batch, 'shared'))!;
    const [mt, mh, mc, st, sh, sc] = [m.tripUs, m.hopUs, m.cpuUs, s.tripUs, s.hopUs, s.cpuUs].map(median) as [number, number, number, number, number, number];
    lines.push(`| ${model} | ${batch} | ${fmt(mt)} | ${fmt(mh)} | ${fmt(mc)} | ${fmt(st)} | ${fmt(sh)} | ${fmt(sc)} | ${(sh / mh).toFixed(2)} | ${(st / mt).toFixed(2)} | ${(sc / mc).toFixed(2)} |`);
  }
}
console.log(lines.join('\n'));
