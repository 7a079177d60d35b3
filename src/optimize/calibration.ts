import type { ModelProto } from './proto/onnx-ml_pb.js';
import { probeTensors, type Feeds } from './tensor-probe.js';

export type CalibrationMethod = 'minmax' | 'percentile';

export interface TensorRange {
  min: number;
  max: number;
}

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** For `percentile`: the share of |values| kept inside the range (onnxruntime's default 99.999). */
  percentile?: number;
  /** Histogram bins for `percentile` (onnxruntime's default 2048). */
  bins?: number;
}

/**
 * Ranges of intermediate values over a calibration set, collected by running the float model
 * (onnxruntime's `MinMaxCalibrater` and `HistogramCalibrater`).
 *
 * - `minmax`: the smallest and largest value seen in any batch.
 * - `percentile`: a histogram of |x| over [0, max|x|] (two passes over the set, so every batch
 *   shares the same bins), cut where the cumulative share reaches `percentile`; the range is
 *   [−T, T] narrowed to the values seen, so outliers no longer stretch the scale. This is
 *   onnxruntime's percentile rule with `symmetric`, the form that keeps negative activations.
 *
 * @example
 * const ranges = await calibrate(model, ['conv1_out'], batches, { method: 'percentile' });
 */
export async function calibrate(model: ModelProto, names: readonly string[], batches: readonly Feeds[], options: CalibrationOptions): Promise<Map<string, TensorRange>> {
  const ranges = new Map<string, TensorRange & { absMax: number }>();
  await probeTensors(model, names, batches, (name, value) => {
    // Only float activations are quantized; an integer value (a shape, an index) has no range here.
    if (value.type !== 'float32') return;
    const data = value.data as Float32Array;
    let { min, max } = ranges.get(name) ?? { min: Infinity, max: -Infinity };
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    ranges.set(name, { min, max, absMax: Math.max(Math.abs(min), Math.abs(max)) });
  });
  for (const [name, r] of ranges) if (!Number.isFinite(r.min)) ranges.set(name, { min: 0, max: 0, absMax: 0 });
  if (options.method === 'minmax') return new Map([...ranges].map(([k, v]) => [k, { min: v.min, max: v.max }]));

  const bins = options.bins ?? 2048;
  const percentile = options.percentile ?? 99.999;
  const histograms = new Map<string, Float64Array>();
  await probeTensors(model, names, batches, (name, value) => {
    const absMax = ranges.get(name)?.absMax ?? 0;
    if (absMax === 0) return;
    let hist = histograms.get(name);
    if (hist === undefined) histograms.set(name, (hist = new Float64Array(bins)));
    const data = value.data as Float32Array;
    for (let i = 0; i < data.length; i++) hist[Math.min(bins - 1, Math.floor((Math.abs(data[i]!) / absMax) * bins))]!++;
  });
  const result = new Map<string, TensorRange>();
  for (const [name, r] of ranges) {
    const hist = histograms.get(name);
    if (hist === undefined) {
      result.set(name, { min: r.min, max: r.max });
      continue;
    }
    const total = hist.reduce((a, b) => a + b, 0);
    let cumulative = 0;
    let edge = bins;
    for (let i = 0; i < bins; i++) {
      cumulative += hist[i]!;
      if (cumulative / total >= percentile / 100) {
        edge = i + 1;
        break;
      }
    }
    const threshold = (edge / bins) * r.absMax;
    result.set(name, { min: Math.max(r.min, -threshold), max: Math.min(r.max, threshold) });
  }
  return result;
}
