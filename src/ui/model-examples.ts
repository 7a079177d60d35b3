import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Model } from '../repository/model-repository.js';
import type { ModelExample } from './model-example.js';

export type { ModelExample };

/** Files in a model folder's `examples/` that the UI offers, by extension. */
const FILE_KINDS: Record<string, { kind: ModelExample['kind']; mediaType: string }> = {
  '.png': { kind: 'image', mediaType: 'image/png' },
  '.jpg': { kind: 'image', mediaType: 'image/jpeg' },
  '.jpeg': { kind: 'image', mediaType: 'image/jpeg' },
  '.webp': { kind: 'image', mediaType: 'image/webp' },
  '.gif': { kind: 'image', mediaType: 'image/gif' },
  '.json': { kind: 'request', mediaType: 'application/json' },
  '.txt': { kind: 'text', mediaType: 'text/plain; charset=utf-8' },
};

/** At most this many examples are listed per model (a folder of thousands is a data set, not examples). */
export const MAX_EXAMPLES = 200;
/** `samples.json` larger than this is not read for the UI. */
const MAX_SAMPLES_BYTES = 1024 * 1024;

function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

export function examplesDir(model: Model): string | undefined {
  return model.source.kind === 'folder' ? join(model.source.dir, 'examples') : undefined;
}

/** The file of example `name` (a plain file name listed by `listExamples`), or undefined. */
export async function exampleFile(model: Model, name: string): Promise<{ path: string; mediaType: string } | undefined> {
  const dir = examplesDir(model);
  // Only a bare file name that the folder really holds: no separators, no dot files.
  if (dir === undefined || name.startsWith('.') || /[\\/\0]/.test(name)) return undefined;
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (!entries.includes(name)) return undefined;
  const path = join(dir, name);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile()) return undefined;
  return { path, mediaType: FILE_KINDS[extname(name).toLowerCase()]?.mediaType ?? 'application/octet-stream' };
}

async function filesIn(model: Model, base: string): Promise<ModelExample[]> {
  const dir = examplesDir(model);
  if (dir === undefined) return [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const examples: ModelExample[] = [];
  for (const entry of entries.sort((a, b) => naturalCompare(a.name, b.name))) {
    if (entry.name.startsWith('.') || !(entry.isFile() || entry.isSymbolicLink())) continue;
    const info = await stat(join(dir, entry.name)).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    const known = FILE_KINDS[extname(entry.name).toLowerCase()];
    const example: ModelExample = {
      name: entry.name,
      kind: known?.kind ?? 'file',
      media_type: known?.mediaType ?? 'application/octet-stream',
      url: `${base}/${encodeURIComponent(entry.name)}`,
      bytes: info.size,
    };
    if (example.kind === 'request') {
      // A body with OIP's "inputs" list is for /v2/…/infer; anything else goes to the handler.
      const text = info.size <= MAX_SAMPLES_BYTES ? await readFile(join(dir, entry.name), 'utf8').catch(() => '') : '';
      example.target = /^\s*\{[\s\S]*"inputs"\s*:\s*\[/.test(text) ? 'infer' : 'predict';
    }
    examples.push(example);
  }
  return examples;
}

/** Entries of `samples.json` whose keys name the graph's inputs. */
async function samplesIn(model: Model, inputNames: readonly string[]): Promise<ModelExample[]> {
  if (model.source.kind !== 'folder' || inputNames.length === 0) return [];
  const path = join(model.source.dir, 'samples.json');
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile() || info.size > MAX_SAMPLES_BYTES) return [];
  let samples: unknown;
  try {
    samples = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return [];
  }
  if (!Array.isArray(samples)) return [];
  const examples: ModelExample[] = [];
  samples.forEach((sample: unknown, i) => {
    if (typeof sample !== 'object' || sample === null || Array.isArray(sample)) return;
    const entry = sample as Record<string, unknown>;
    if (!inputNames.every((name) => name in entry)) return;
    const inputs: Record<string, unknown> = {};
    const expected: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(entry)) (inputNames.includes(key) ? inputs : expected)[key] = value;
    const label = expected.label ?? expected.expected;
    examples.push({
      name: `sample ${i + 1}${label === undefined ? '' : ` (${typeof label === 'string' ? label : JSON.stringify(label)})`}`,
      kind: 'tensors',
      target: 'infer',
      inputs,
      ...(Object.keys(expected).length > 0 && { expected }),
    });
  });
  return examples;
}

/**
 * The examples a model folder offers: files in its `examples/` folder and entries of its
 * `samples.json` whose keys are the graph's input names.
 *
 * @example
 * const examples = await listExamples(slipway.repository.get('digits')!, '/api/models/digits/examples');
 */
export async function listExamples(model: Model, urlBase: string): Promise<ModelExample[]> {
  const ready = [...model.versions.values()].filter((v) => v.config !== undefined).sort((a, b) => b.version - a.version)[0];
  const inputNames = ready?.config?.inputs.map((t) => t.name) ?? [];
  const examples = [...(await filesIn(model, urlBase)), ...(await samplesIn(model, inputNames))];
  return examples.slice(0, MAX_EXAMPLES);
}
