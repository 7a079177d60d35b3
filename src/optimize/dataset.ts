import { resolveMapping } from '../batch/mapping/batch-mapping.js';
import { ChunkBuilder } from '../batch/mapping/chunk-builder.js';
import { planInputs } from '../batch/mapping/input-plan.js';
import { RowError } from '../batch/mapping/tensor-values.js';
import { CsvSource } from '../batch/sources/csv-source.js';
import { expandInputFiles } from '../batch/sources/input-files.js';
import { JsonlSource } from '../batch/sources/jsonl-source.js';
import type { RowSource } from '../batch/sources/row-source.js';
import type { ModelConfig } from '../config/model-config.js';
import { ServingError } from '../errors/serving-error.js';
import type { Feeds } from './tensor-probe.js';

export interface DatasetOptions {
  /** `INPUT=COLUMNS` mappings, as `slipway batch --map` takes them. */
  map?: readonly string[];
  /** The column holding each row's true class (an integer index), for accuracy; excluded from the inputs. */
  label?: string;
  /** Rows per batch (default: the model's max_batch_size, or 1 without a batch dimension). */
  batchSize?: number;
  /** Stop after this many rows. */
  maxRows?: number;
}

export interface Dataset {
  batches: Feeds[];
  /** Per row, in order: its label when `label` was given. */
  labels: number[] | undefined;
  rows: number;
  /** The files read, for the report. */
  files: string[];
}

/**
 * Reads rows from the files `slipway batch` reads (CSV, TSV, JSON Lines, optionally gzipped), with
 * the same mapping rules (`--map`, the model's `batch:` section), into batches of the model's
 * input tensors; a bad row stops the read with its file and line.
 *
 * @example
 * const heldOut = await readDataset(['data/heldout.csv'], config, { label: 'label' });
 */
export async function readDataset(patterns: readonly string[], config: ModelConfig, options: DatasetOptions = {}): Promise<Dataset> {
  const files = await expandInputFiles(patterns);
  const source: RowSource = files[0]!.format === 'csv' ? await CsvSource.open(files) : await JsonlSource.open(files);
  try {
    const mapping = await resolveMapping({ map: options.map ?? [] }, undefined, undefined);
    if (options.label !== undefined && source.kind === 'csv' && !source.columns.includes(options.label)) {
      throw new ServingError('CONFIG_INVALID', `--label '${options.label}' is not a column of ${files[0]!.path}; its columns are ${source.columns.slice(0, 12).join(', ')}`);
    }
    const plans = planInputs(config, source.columns, options.label, mapping.inputs);
    const fields: string[] = [];
    const slotOf = (field: string): number => {
      const at = fields.indexOf(field);
      return at >= 0 ? at : fields.push(field) - 1;
    };
    const labelSlot = options.label === undefined ? undefined : slotOf(options.label);
    const slots = plans.map((p) => p.fields.map(slotOf));
    const what = source.kind === 'jsonl' ? 'field' : 'column';
    source.bind(fields);
    const batched = config.maxBatchSize > 0;
    const maxRows = batched ? Math.max(1, Math.min(options.batchSize ?? config.maxBatchSize, config.maxBatchSize)) : 1;
    const builder = new ChunkBuilder(plans, slots, plans.map((p) => p.fields.map((f) => `${what} '${f}'`)), maxRows, batched);
    const batches: Feeds[] = [];
    const labels: number[] | undefined = labelSlot === undefined ? undefined : [];
    let rows = 0;
    outer: for await (const block of source.blocks({ position: 0 })) {
      for (let i = 0; i < block.size; i++) {
        const row = block.row(i);
        const problem = row.problem();
        if (problem !== undefined) throw new ServingError('INVALID_INPUT', `${row.location()}: ${problem}`);
        try {
          if (!builder.add(row)) {
            batches.push(builder.take());
            builder.add(row);
          }
        } catch (error) {
          if (error instanceof RowError) throw new ServingError('INVALID_INPUT', `${row.location()}: ${error.message}`);
          throw error;
        }
        if (labels !== undefined) {
          const value = Number(row.get(labelSlot!));
          if (!Number.isInteger(value)) throw new ServingError('INVALID_INPUT', `${row.location()}: label '${String(row.get(labelSlot!))}' is not a class index`);
          labels.push(value);
        }
        rows++;
        if (builder.full) batches.push(builder.take());
        if (options.maxRows !== undefined && rows >= options.maxRows) break outer;
      }
    }
    if (builder.size > 0) batches.push(builder.take());
    if (rows === 0) throw new ServingError('CONFIG_INVALID', `${patterns.join(', ')} holds no rows`);
    // take() hands out views of the builder's buffers; each batch keeps its own copy.
    const owned = batches.map((feeds) => feeds.map((t) => ({ ...t, data: t.data.slice() as typeof t.data })));
    return { batches: owned, labels, rows, files: files.map((f) => f.path) };
  } finally {
    await source.close();
  }
}
