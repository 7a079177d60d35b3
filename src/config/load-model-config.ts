import { readFile } from 'node:fs/promises';
import { modelConfigFileSchema, type ModelConfigFile } from './model-config.js';
import { parseYamlConfig } from './parse-yaml-config.js';

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
  return parseYamlConfig(modelConfigFileSchema, text, source, {});
}
