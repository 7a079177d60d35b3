import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ServingError } from '../errors/serving-error.js';
import { formatIssues } from './format-issues.js';

/**
 * Parses YAML text and validates it against a schema, reporting every problem at once with its
 * field path, prefixed by `source` (the file): `config.yaml: max_batch_size: expected number`.
 *
 * @example
 * const file = parseYamlConfig(modelConfigFileSchema, text, 'models/digits/config.yaml', {});
 */
export function parseYamlConfig<S extends z.ZodType>(schema: S, text: string, source: string, empty?: unknown): z.output<S> {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? empty;
  } catch (error) {
    throw new ServingError('CONFIG_INVALID', `${source}: not valid YAML: ${(error as Error).message}`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw new ServingError('CONFIG_INVALID', `${source}: ${formatIssues(result.error).join('; ')}`);
  return result.data;
}
