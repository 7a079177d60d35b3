import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { glob, isDynamicPattern } from 'tinyglobby';
import { ServingError } from '../../errors/serving-error.js';

export type FileFormat = 'csv' | 'jsonl';

export interface InputFile {
  path: string;
  sizeBytes: number;
  mtimeMs: number;
  gzip: boolean;
  format: FileFormat;
  /** Field delimiter for CSV files (tab for .tsv). */
  delimiter: string;
}

const FORMATS: Array<{ suffix: RegExp; format: FileFormat; delimiter: string }> = [
  { suffix: /\.csv(\.gz)?$/i, format: 'csv', delimiter: ',' },
  { suffix: /\.tsv(\.gz)?$/i, format: 'csv', delimiter: '\t' },
  { suffix: /\.(jsonl|ndjson)(\.gz)?$/i, format: 'jsonl', delimiter: ',' },
];

/**
 * Expands `--input` arguments (paths or globs) into files, each argument's matches sorted by path so
 * the row order, and so every checkpoint, is the same on every run. A pattern matching nothing, a
 * missing file, or files of two formats are errors before any work starts.
 */
export async function expandInputFiles(
  patterns: readonly string[],
  options: { format?: FileFormat; delimiter?: string } = {},
): Promise<InputFile[]> {
  const paths: string[] = [];
  for (const pattern of patterns) {
    if (isDynamicPattern(pattern)) {
      const matches = (await glob(pattern, { absolute: true, onlyFiles: true, expandDirectories: false })).sort();
      if (matches.length === 0) throw new ServingError('CONFIG_INVALID', `--input '${pattern}' matches no file`);
      paths.push(...matches);
    } else {
      paths.push(resolve(pattern));
    }
  }
  const files: InputFile[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    if (seen.has(path)) continue; // two patterns matching one file must not feed its rows twice
    seen.add(path);
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new ServingError('CONFIG_INVALID', `input file ${path} does not exist`);
    }
    if (!info.isFile()) throw new ServingError('CONFIG_INVALID', `input ${path} is not a file`);
    const known = FORMATS.find((f) => f.suffix.test(path));
    const format = options.format ?? known?.format;
    if (format === undefined) {
      throw new ServingError('CONFIG_INVALID', `cannot tell the format of ${path} from its name (.csv, .tsv, .jsonl, .ndjson, optionally .gz); pass --format csv or --format jsonl`);
    }
    files.push({
      path,
      sizeBytes: info.size,
      mtimeMs: Math.trunc(info.mtimeMs),
      gzip: /\.gz$/i.test(path),
      format,
      delimiter: options.delimiter ?? known?.delimiter ?? ',',
    });
  }
  const formats = new Set(files.map((f) => f.format));
  if (formats.size > 1) {
    throw new ServingError('CONFIG_INVALID', `inputs mix formats (${[...formats].join(' and ')}); run one job per format`);
  }
  return files;
}

/** Names, sizes and modification times: a resumed run refuses input that changed under it. */
export function filesFingerprint(files: readonly InputFile[]): string {
  return JSON.stringify(files.map((f) => [f.path, f.sizeBytes, f.mtimeMs]));
}

/** Explains how two fingerprints differ, for the error that refuses to resume. */
export function describeFingerprintChange(before: string, after: string): string {
  let a: Array<[string, number, number]>;
  let b: Array<[string, number, number]>;
  try {
    a = JSON.parse(before) as Array<[string, number, number]>;
    b = JSON.parse(after) as Array<[string, number, number]>;
  } catch {
    return 'the input is not the same';
  }
  const changes: string[] = [];
  const old = new Map(a.map((f) => [f[0], f] as const));
  const now = new Map(b.map((f) => [f[0], f] as const));
  for (const [path, f] of old) {
    const g = now.get(path);
    if (g === undefined) changes.push(`${path} is gone`);
    else if (g[1] !== f[1]) changes.push(`${path} changed size (${f[1]} -> ${g[1]} bytes)`);
    else if (g[2] !== f[2]) changes.push(`${path} was modified`);
  }
  for (const path of now.keys()) if (!old.has(path)) changes.push(`${path} is new`);
  if (changes.length === 0 && before !== after) changes.push('the files are in another order');
  return changes.join('; ');
}

/** The file's bytes, decompressed when gzipped; `onRead` counts raw bytes for progress. */
export function openInputStream(file: InputFile, onRead: (bytes: number) => void): Readable {
  const raw = createReadStream(file.path, { highWaterMark: 1 << 20 });
  raw.on('data', (chunk: Buffer | string) => onRead(chunk.length));
  if (!file.gzip) return raw;
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  raw.on('error', (error) => gunzip.destroy(error));
  return raw.pipe(gunzip);
}
