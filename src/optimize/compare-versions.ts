import { cpus } from 'node:os';
import { fullShape, type ModelConfig } from '../config/model-config.js';
import { runCallLoop } from '../loadgen/closed-loop.js';
import type { Slipway } from '../slipway.js';
import { allocateData } from '../tensor/datatypes.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AccuracyReport, SpeedPoint, SpeedReport } from './optimize-report.js';
import type { Feeds } from './tensor-probe.js';

export interface SpeedOptions {
  /** One batch of real inputs to tile, when there is one; otherwise inputs are synthesised. */
  sample?: Feeds;
  /** Shapes for inputs with variable dims other than the batch (`x: [1, 3, 48, 320]`). */
  shapes?: Record<string, number[]>;
  batchSizes: number[];
  secondsPerPoint: number;
}

/** A batch of `rows` rows: the sample's rows repeated, or random values in the model's input shapes. */
export function makeBatch(config: ModelConfig, rows: number, options: Pick<SpeedOptions, 'sample' | 'shapes'>): Tensor[] {
  return config.inputs.map((spec) => {
    const sample = options.sample?.find((t) => t.name === spec.name);
    if (sample !== undefined && config.maxBatchSize > 0) {
      const width = sample.data.length / sample.shape[0]!;
      const data = allocateData(spec.datatype, rows * width);
      for (let r = 0; r < rows; r++) (data as Float32Array).set((sample.data as Float32Array).subarray((r % sample.shape[0]!) * width, ((r % sample.shape[0]!) + 1) * width), r * width);
      return { name: spec.name, datatype: spec.datatype, shape: [rows, ...sample.shape.slice(1)], data };
    }
    const override = options.shapes?.[spec.name];
    const shape = override !== undefined ? [...override] : fullShape(config, spec).map((d, i) => (d >= 0 ? d : i === 0 ? rows : 16));
    if (config.maxBatchSize > 0) shape[0] = rows;
    const count = shape.reduce((a, b) => a * b, 1);
    const data = allocateData(spec.datatype, count);
    if (data instanceof Float32Array || data instanceof Float64Array) for (let i = 0; i < count; i++) data[i] = Math.random();
    return { name: spec.name, datatype: spec.datatype, shape, data };
  });
}

/**
 * Float and optimized versions measured in one run through the same worker instances, scheduler
 * and batcher the server uses (the in-process closed loop `slipway bench` drives over HTTP):
 * latency at batch 1 with one request in flight, then rows per second at each batch size with
 * two requests in flight per instance. The two versions alternate at every point, so a change in
 * the machine's load falls on both.
 */
export async function compareSpeed(slipway: Slipway, model: string, versions: [number, number], options: SpeedOptions): Promise<SpeedReport> {
  const target = slipway.router.resolve(model, String(versions[0]));
  const config = target.config;
  const instances = slipway.repository.get(model)?.versions.get(versions[0])?.pool?.size ?? config.instanceCount;
  const durationMs = options.secondsPerPoint * 1000;
  const point = async (batchSize: number, concurrency: number): Promise<SpeedPoint> => {
    const inputs = makeBatch(config, batchSize, options);
    const measure = async (version: number) => {
      const result = await runCallLoop(
        () => slipway.infer({ model, version: String(version), inputs }).then(() => undefined),
        { concurrency, durationMs, warmupRequests: concurrency * 3 },
      );
      if (result.errors > 0) throw new Error(`v${version} at batch ${batchSize}: ${result.errors} requests failed; first: ${result.firstError}`);
      return { rowsPerSecond: result.perSecond * batchSize, p50Ms: result.latency.p50Ms, p99Ms: result.latency.p99Ms };
    };
    const source = await measure(versions[0]);
    const optimized = await measure(versions[1]);
    return { batchSize, source, optimized };
  };
  const latency = await point(1, 1);
  const sizes = config.maxBatchSize > 0 ? options.batchSizes.filter((b) => b <= config.maxBatchSize) : [1];
  const throughput: SpeedPoint[] = [];
  for (const size of sizes) throughput.push(await point(size, instances * 2));
  const bestOf = (pick: (p: SpeedPoint) => number): SpeedPoint => throughput.reduce((a, b) => (pick(b) > pick(a) ? b : a));
  const bestSource = bestOf((p) => p.source.rowsPerSecond);
  const bestOptimized = bestOf((p) => p.optimized.rowsPerSecond);
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return {
    measuredOn: `onnxruntime-node CPU execution provider, ${cpu}, ${cpus().length} cores`,
    instances: `${instances} instance(s) × ${config.intraOpThreads} thread(s)`,
    secondsPerPoint: options.secondsPerPoint,
    latency,
    throughput,
    best: { sourceBatchSize: bestSource.batchSize, optimizedBatchSize: bestOptimized.batchSize, ratio: bestOptimized.optimized.rowsPerSecond / bestSource.source.rowsPerSecond },
  };
}

/** Runs a held-out set through both versions and compares their outputs (and their accuracy, given labels). */
export async function compareAccuracy(
  slipway: Slipway,
  model: string,
  versions: [number, number],
  dataset: { batches: Feeds[]; labels: number[] | undefined; files: string[]; rows: number },
): Promise<AccuracyReport> {
  const diffs = new Map<string, { max: number; sum: number; count: number }>();
  const argmaxes: Array<Map<string, number[]>> = [new Map(), new Map()];
  for (const batch of dataset.batches) {
    const [a, b] = await Promise.all(versions.map((v) => slipway.infer({ model, version: String(v), inputs: batch })));
    for (const out of a!.outputs) {
      const other = b!.outputs.find((o) => o.name === out.name);
      if (other === undefined || typeof out.data[0] !== 'number') continue;
      const x = out.data as Float32Array;
      const y = other.data as Float32Array;
      const d = diffs.get(out.name) ?? { max: 0, sum: 0, count: 0 };
      for (let i = 0; i < x.length; i++) {
        const delta = Math.abs(x[i]! - y[i]!);
        if (delta > d.max) d.max = delta;
        d.sum += delta;
      }
      d.count += x.length;
      diffs.set(out.name, d);
      if (out.shape.length === 2 && out.shape[1]! > 1) {
        for (const [k, t] of [[0, out], [1, other]] as const) {
          const list = argmaxes[k]!.get(out.name) ?? [];
          const classes = t.shape[1]!;
          const data = t.data as Float32Array;
          for (let r = 0; r < t.shape[0]!; r++) {
            let best = 0;
            for (let c = 1; c < classes; c++) if (data[r * classes + c]! > data[r * classes + best]!) best = c;
            list.push(best);
          }
          argmaxes[k]!.set(out.name, list);
        }
      }
    }
  }
  const report: AccuracyReport = {
    files: dataset.files,
    rows: dataset.rows,
    outputs: [...diffs].map(([name, d]) => ({ name, maxAbsDiff: d.max, meanAbsDiff: d.count === 0 ? 0 : d.sum / d.count })),
  };
  const classOutput = [...argmaxes[0]!.keys()][0];
  if (classOutput !== undefined) {
    const s = argmaxes[0]!.get(classOutput)!;
    const o = argmaxes[1]!.get(classOutput)!;
    const agree = s.filter((c, i) => c === o[i]).length / s.length;
    report.classifier = { output: classOutput, top1Agreement: agree };
    if (dataset.labels !== undefined) {
      const labels = dataset.labels;
      const accuracy = (pred: number[]): number => pred.filter((c, i) => c === labels[i]).length / pred.length;
      report.classifier.sourceAccuracy = accuracy(s);
      report.classifier.optimizedAccuracy = accuracy(o);
      report.classifier.deltaPoints = (report.classifier.optimizedAccuracy - report.classifier.sourceAccuracy) * 100;
    }
  }
  return report;
}
