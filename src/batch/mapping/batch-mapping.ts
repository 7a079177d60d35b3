import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { batchMappingSchema, type BatchMappingConfig } from '../../config/batch-mapping-config.js';
import { formatIssues } from '../../config/format-issues.js';
import type { ModelConfig } from '../../config/model-config.js';
import { ServingError } from '../../errors/serving-error.js';
import { RESERVED_COLUMNS, type TableLayout } from '../sinks/batch-store.js';
import type { RowSource } from '../sources/row-source.js';
import { planInputs, type InputPlan } from './input-plan.js';
import { defaultOutputColumns, parseOutputColumns, type OutputColumn } from './output-columns.js';

/** The key column a job uses when none is given: the row's 1-based position in the input. */
export const DEFAULT_KEY_COLUMN = 'row_number';

/** Mapping as given on the command line; each part overrides the same part of the mapping file and the model's config. */
export interface MappingFlags {
  key?: string;
  /** `INPUT=COLUMNS` */
  map?: readonly string[];
  /** `COLUMN=EXPRESSION` */
  outputColumns?: readonly string[];
  /** A file of class names, one per line. */
  labels?: string;
  /** A YAML file shaped like the `batch:` section of config.yaml. */
  mappingFile?: string;
}

export interface ResolvedMapping {
  keyColumn: string | undefined;
  inputs: Map<string, { specs: string[]; splitCommas: boolean }>;
  outputs: Array<[string, string]> | undefined;
  labels: string[] | undefined;
}

const mappingError = (message: string): ServingError => new ServingError('CONFIG_INVALID', message);

function splitPair(text: string, flag: string, shape: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0 || at === text.length - 1) throw mappingError(`${flag} '${text}': expected ${shape}`);
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}

async function readLabels(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw mappingError(`labels file ${path} cannot be read: ${(error as Error).message}`);
  }
  const labels = text.split(/\r?\n/).map((l) => l.trim());
  while (labels.length > 0 && labels[labels.length - 1] === '') labels.pop();
  if (labels.length === 0) throw mappingError(`labels file ${path} is empty`);
  return labels;
}

async function readMappingFile(path: string): Promise<BatchMappingConfig> {
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(path, 'utf8')) ?? {};
  } catch (error) {
    throw mappingError(`--mapping ${path}: ${(error as Error).message}`);
  }
  const result = batchMappingSchema.safeParse(raw);
  if (!result.success) throw mappingError(`--mapping ${path}: ${formatIssues(result.error).join('; ')}`);
  return result.data;
}

/**
 * Merges the mapping from (weakest first) the model's `config.yaml` `batch:` section, a `--mapping`
 * file and the flags. Relative label files are read from where they were named: the model folder,
 * the mapping file's folder, or the working directory.
 */
export async function resolveMapping(
  flags: MappingFlags,
  modelSection: BatchMappingConfig | undefined,
  modelDir: string | undefined,
): Promise<ResolvedMapping> {
  const resolved: ResolvedMapping = { keyColumn: undefined, inputs: new Map(), outputs: undefined, labels: undefined };
  const apply = async (section: BatchMappingConfig | undefined, baseDir: string): Promise<void> => {
    if (section === undefined) return;
    if (section.key !== undefined) resolved.keyColumn = section.key;
    for (const [input, spec] of Object.entries(section.inputs ?? {})) {
      resolved.inputs.set(input, typeof spec === 'string' ? { specs: [spec], splitCommas: true } : { specs: spec, splitCommas: false });
    }
    if (section.outputs !== undefined) resolved.outputs = Object.entries(section.outputs);
    if (section.labels !== undefined) {
      resolved.labels = typeof section.labels === 'string' ? await readLabels(resolve(baseDir, section.labels)) : section.labels;
    }
  };
  await apply(modelSection, modelDir ?? process.cwd());
  if (flags.mappingFile !== undefined) await apply(await readMappingFile(flags.mappingFile), dirname(resolve(flags.mappingFile)));
  if (flags.key !== undefined) resolved.keyColumn = flags.key;
  for (const entry of flags.map ?? []) {
    const [input, spec] = splitPair(entry, '--map', 'INPUT=COLUMNS (e.g. image=p0..p63)');
    resolved.inputs.set(input, { specs: [spec], splitCommas: true });
  }
  if (flags.outputColumns !== undefined && flags.outputColumns.length > 0) {
    resolved.outputs = flags.outputColumns.map((e) => splitPair(e, '--output-column', 'COLUMN=EXPRESSION (e.g. digit=argmax(probabilities))'));
  }
  if (flags.labels !== undefined) resolved.labels = await readLabels(resolve(flags.labels));
  return resolved;
}

/** Everything a run needs to turn rows into requests and answers into rows. */
export interface BatchPlan {
  keyColumn: string;
  /** The source slot of the key column; undefined when the key is the row number. */
  keySlot: number | undefined;
  inputs: InputPlan[];
  /** Per input, the source slot of each of its fields. */
  slots: number[][];
  /** Per input, how each field is named in messages. */
  labels: string[][];
  outputs: OutputColumn[];
  classLabels: string[] | undefined;
}

/** Plans inputs and outputs against the model and the source, and binds the source's fields. */
export function planBatch(config: ModelConfig, source: RowSource, mapping: ResolvedMapping): BatchPlan {
  const keyColumn = mapping.keyColumn ?? DEFAULT_KEY_COLUMN;
  const keyIsColumn = mapping.keyColumn !== undefined;
  if (keyIsColumn && source.kind !== 'jsonl' && !source.columns.includes(keyColumn)) {
    throw mappingError(`--key '${keyColumn}' is not a column of the input; its columns are ${source.columns.slice(0, 12).map((c) => `'${c}'`).join(', ')}${source.columns.length > 12 ? ' …' : ''}`);
  }
  const inputs = planInputs(config, source.columns, keyIsColumn ? keyColumn : undefined, mapping.inputs);
  const outputs = mapping.outputs === undefined ? defaultOutputColumns(config, mapping.labels) : parseOutputColumns(config, mapping.outputs, mapping.labels);
  if (outputs.length === 0) throw mappingError('the mapping produces no output column');
  const seen = new Set<string>();
  for (const column of outputs) {
    if (column.name === keyColumn) throw mappingError(`output column '${column.name}' has the key column's name; rename it with --output-column NAME=${column.expression}`);
    if ((RESERVED_COLUMNS as readonly string[]).includes(column.name)) {
      throw mappingError(`output column '${column.name}' is reserved (${RESERVED_COLUMNS.join(', ')} are Slipway's); rename it with --output-column NAME=${column.expression}`);
    }
    if (seen.has(column.name)) throw mappingError(`output column '${column.name}' is defined twice`);
    seen.add(column.name);
  }
  const fields: string[] = [];
  const slotOf = (field: string): number => {
    const at = fields.indexOf(field);
    return at >= 0 ? at : fields.push(field) - 1;
  };
  const keySlot = keyIsColumn ? slotOf(keyColumn) : undefined;
  const slots = inputs.map((plan) => plan.fields.map(slotOf));
  const what = source.kind === 'jsonl' ? 'field' : 'column';
  const labels = inputs.map((plan) => plan.fields.map((f) => `${what} '${f}'`));
  source.bind(fields);
  return { keyColumn, keySlot, inputs, slots, labels, outputs, classLabels: mapping.labels };
}

export function tableLayout(table: string, plan: BatchPlan): TableLayout {
  return { table, keyColumn: plan.keyColumn, columns: plan.outputs.map((c) => ({ name: c.name, type: c.type })) };
}

/** What decides a run's output; a resumed run must have the same, or it would mix two mappings in one run. */
export function planSpec(model: string, version: number, table: string, plan: BatchPlan): string {
  return JSON.stringify({
    model,
    version,
    table,
    key: plan.keyColumn,
    inputs: plan.inputs.map((p) => [p.name, p.fields]),
    outputs: plan.outputs.map((c) => [c.name, c.expression]),
    labels: plan.classLabels ?? null,
  });
}
