import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { INFERENCE_GRAPH_FILE } from '../config/inference-graph-config.js';
import { ServingError } from '../errors/serving-error.js';

/** File names a model folder's handler may have (TypeScript is transpiled at load time). */
export const HANDLER_FILE_NAMES: readonly string[] = ['handler.ts', 'handler.mts', 'handler.js', 'handler.mjs'];

/** Where one model lives: a folder with version subfolders, or a single `.onnx` file (version 1). */
export type ModelSource =
  | { kind: 'folder'; name: string; dir: string }
  | { kind: 'file'; name: string; file: string };

const VERSION_DIR = /^[1-9][0-9]*$/;
const MODEL_NAME = /^[A-Za-z0-9_.-]+$/;

export function isVersionDirName(name: string): boolean {
  return VERSION_DIR.test(name);
}

/**
 * Turns `slipway serve` paths into model sources. A path may be a repository (a folder of model
 * folders and loose .onnx files), one model folder (it has version folders, a config.yaml, a
 * model.onnx, an inference-graph.yaml or a handler), or one .onnx
 * file. Two models with one name are refused at start rather than letting one silently win.
 */
export async function discoverModels(paths: readonly string[]): Promise<ModelSource[]> {
  const sources: ModelSource[] = [];
  for (const path of paths) sources.push(...(await discoverPath(resolve(path))));
  const seen = new Map<string, ModelSource>();
  for (const source of sources) {
    const other = seen.get(source.name);
    if (other !== undefined) {
      throw new ServingError('CONFIG_INVALID', `two models are named '${source.name}': ${where(other)} and ${where(source)}`);
    }
    seen.set(source.name, source);
  }
  return sources;
}

function where(source: ModelSource): string {
  return source.kind === 'folder' ? source.dir : source.file;
}

async function discoverPath(path: string): Promise<ModelSource[]> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new ServingError('CONFIG_INVALID', `model path ${path} does not exist`);
  }
  if (info.isFile()) {
    if (extname(path) !== '.onnx') throw new ServingError('CONFIG_INVALID', `model file ${path} is not an .onnx file`);
    return [{ kind: 'file', name: modelName(basename(path, '.onnx'), path), file: path }];
  }
  if (await isModelFolder(path)) return [{ kind: 'folder', name: modelName(basename(path), path), dir: path }];
  const entries = await readdir(path, { withFileTypes: true });
  const models: ModelSource[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const dir = join(path, entry.name);
    if ((entry.isDirectory() || entry.isSymbolicLink()) && (await isModelFolder(dir))) {
      models.push({ kind: 'folder', name: modelName(entry.name, dir), dir });
    } else if (entry.isFile() && extname(entry.name) === '.onnx') {
      // A loose graph beside the model folders (KServe's storage initializer puts a single-file
      // storageUri at /mnt/models/<file>.onnx): a model of its own, version 1.
      models.push({ kind: 'file', name: modelName(basename(entry.name, '.onnx'), dir), file: dir });
    }
  }
  if (models.length === 0) {
    throw new ServingError(
      'CONFIG_INVALID',
      `${path} holds no models: expected <model>/<version>/model.onnx folders, a model folder, or .onnx files`,
    );
  }
  return models;
}

async function isModelFolder(dir: string): Promise<boolean> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some(
    (e) =>
      ((e.isDirectory() || e.isSymbolicLink()) && isVersionDirName(e.name)) ||
      e.name === 'config.yaml' ||
      e.name === 'model.onnx' ||
      // A KServe InferenceGraph: a graph of other models, with no file of its own.
      e.name === INFERENCE_GRAPH_FILE ||
      // A pipeline folder has a handler and no graph of its own.
      (e.isFile() && HANDLER_FILE_NAMES.includes(e.name)),
  );
}

function modelName(name: string, path: string): string {
  if (!MODEL_NAME.test(name)) {
    throw new ServingError('CONFIG_INVALID', `model name '${name}' (from ${path}) may only use letters, digits, '_', '-' and '.'`);
  }
  return name;
}
