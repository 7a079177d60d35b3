// The k most likely classes of each row of a probability tensor, as a tensor handler: TypeScript
// served as a model (OIP metadata from `inputs`/`outputs`) that graphs can use as a step. The
// digits_top3 ensemble runs it after the CNN. Nothing here is specific to digits: any classifier's
// probabilities (or scores) work, with any number of classes.
import { defineTensorHandler, type HandlerContext } from 'slipway';

/** k from config.yaml's `parameters.k` (3 unless told). */
function kOf(ctx: HandlerContext): number {
  const k = ctx.parameters.k ?? 3;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new Error(`parameters.k must be a positive integer, not ${JSON.stringify(k)}`);
  return k;
}

export default defineTensorHandler({
  description: 'The k most likely classes of each row of a probability tensor, with their probabilities.',
  maxBatchSize: 64,
  inputs: [{ name: 'probabilities', datatype: 'FP32', shape: [-1, -1] }],
  outputs: (ctx) => [
    { name: 'classes', datatype: 'INT64', shape: [-1, kOf(ctx)] },
    { name: 'scores', datatype: 'FP32', shape: [-1, kOf(ctx)] },
  ],
  predict: ({ probabilities }, ctx) => {
    const k = kOf(ctx);
    const [rows, n] = probabilities!.shape as [number, number];
    if (n < k) throw new RangeError(`input 'probabilities' has ${n} classes per row, fewer than k = ${k}`);
    const p = probabilities!.data as Float32Array;
    const classes = new BigInt64Array(rows * k);
    const scores = new Float32Array(rows * k);
    const order = Array.from({ length: n }, (_, i) => i);
    for (let r = 0; r < rows; r++) {
      const row = p.subarray(r * n, r * n + n);
      // Ties keep the lower class first (Array.prototype.sort is stable).
      order.sort((a, b) => row[b]! - row[a]! || a - b);
      for (let j = 0; j < k; j++) {
        classes[r * k + j] = BigInt(order[j]!);
        scores[r * k + j] = row[order[j]!]!;
      }
      order.sort((a, b) => a - b);
    }
    return { classes: { shape: [rows, k], data: classes }, scores: { shape: [rows, k], data: scores } };
  },
});
