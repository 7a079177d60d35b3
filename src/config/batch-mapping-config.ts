import { z } from 'zod';

const fieldList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/**
 * How a batch job turns rows into input tensors and outputs into columns: the `batch:` section of a
 * model's `config.yaml`, or a `--mapping` YAML file of the same shape. Everything is optional: by
 * default a field named after an input feeds it, a single-input model takes the non-key columns in
 * order, and a classifier's output becomes `label` + `score`.
 *
 * @example
 * # config.yaml
 * batch:
 *   key: id
 *   inputs:
 *     image: p0..p63          # a range of columns, "pixel_*", "a,b,c", a list, or one field holding an array
 *   outputs:
 *     digit: argmax(probabilities)
 *     confidence: max(probabilities)
 *     probabilities: json(probabilities)
 *   labels: [zero, one, two, three, four, five, six, seven, eight, nine]   # or a file name: labels.txt
 */
export const batchMappingSchema = z.strictObject({
  key: z.string().min(1).optional(),
  inputs: z.record(z.string().min(1), fieldList).optional(),
  outputs: z.record(z.string().min(1), z.string().min(1)).optional(),
  labels: z.union([z.array(z.string()).min(1), z.string().min(1)]).optional(),
});

export type BatchMappingConfig = z.infer<typeof batchMappingSchema>;
