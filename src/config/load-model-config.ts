import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ServingError } from '../errors/serving-error.js';
import { formatIssues } from './format-issues.js';
import { modelConfigFileSchema, type ModelConfigFile } from './model-config.js';

/**
 * Reads and validates a model's `config.yaml`; a missing file is an empty config. Every problem is
 * reported at once, each with its field path (`max_batch_size: expected number`).
 */
export async function loadModelConfigFile(path: string): Promise<ModelConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  return parseModelConfigText(text, path);
}

export function parseModelConfigText(text: string, source: string): ModelConfigFile {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new ServingError('CONFIG_INVALID', `${source}: not valid YAML: ${(error as Error).message}`);
  }
  const result = modelConfigFileSchema.safeParse(raw);
  if (!result.success) {
    throw new ServingError('CONFIG_INVALID', `${source}: ${formatIssues(result.error).join('; ')}`);
  }
  return result.data;
}
