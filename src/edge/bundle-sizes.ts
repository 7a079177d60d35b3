import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** A file's bytes as stored and as sent compressed. */
export interface FileSize {
  bytes: number;
  gzip: number;
  brotli: number;
}

/**
 * Brotli quality for the report and the precompressed files. 11 (the maximum) takes over a minute
 * on onnxruntime's 14 MB wasm and gains about 12 % over 9; hosts that compress on the fly use 4-6.
 */
export const BROTLI_QUALITY = 9;

/** Files worth sending compressed; pictures are compressed already. */
const COMPRESSIBLE = /\.(js|mjs|wasm|onnx|json|css|html|txt)$/;

export function sumSizes(sizes: Iterable<FileSize>): FileSize {
  const total = { bytes: 0, gzip: 0, brotli: 0 };
  for (const s of sizes) {
    total.bytes += s.bytes;
    total.gzip += s.gzip;
    total.brotli += s.brotli;
  }
  return total;
}

/** Files from this size on are compressed once per machine and kept (by content), since onnxruntime's wasm and the models are the same from bundle to bundle. */
const CACHE_FROM_BYTES = 1024 * 1024;

function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'slipway', 'compressed');
}

async function compressNow(data: Buffer): Promise<{ gz: Buffer; br: Buffer }> {
  // zlib's async calls run on libuv's thread pool, so the files of a bundle compress in parallel.
  const [gz, br] = await Promise.all([
    gzipAsync(data, { level: 9 }),
    brotliAsync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength } }),
  ]);
  return { gz, br };
}

async function compressed(data: Buffer): Promise<{ gz: Buffer; br: Buffer }> {
  if (data.byteLength < CACHE_FROM_BYTES) return compressNow(data);
  const dir = cacheDir();
  const key = `${createHash('sha256').update(data).digest('hex')}-gzip9-brotli${BROTLI_QUALITY}`;
  try {
    return { gz: await readFile(join(dir, `${key}.gz`)), br: await readFile(join(dir, `${key}.br`)) };
  } catch {
    // not compressed on this machine yet
  }
  const result = await compressNow(data);
  try {
    await mkdir(dir, { recursive: true });
    for (const [ext, bytes] of [['gz', result.gz], ['br', result.br]] as const) {
      // Written beside and renamed, so a concurrent `slipway edge` never reads half a file.
      const tmp = join(dir, `${key}.${ext}.${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(tmp, bytes);
      await rename(tmp, join(dir, `${key}.${ext}`));
    }
  } catch {
    // A cache that cannot be written is no cache; the bundle does not need it.
  }
  return result;
}

/**
 * Measures one file gzipped (level 9) and brotli'd (quality 9); with `precompress`, writes them
 * beside it as `.gz` and `.br` when they save at least a tenth, for hosts that serve precompressed
 * files (nginx gzip_static/brotli_static, Caddy `precompressed`, Slipway's /edge route).
 */
export async function measureFile(path: string, precompress: boolean): Promise<FileSize> {
  const data = await readFile(path);
  if (!COMPRESSIBLE.test(path)) return { bytes: data.byteLength, gzip: data.byteLength, brotli: data.byteLength };
  const { gz, br } = await compressed(data);
  const worth = (compressed: Buffer): boolean => compressed.byteLength <= data.byteLength * 0.9;
  if (precompress && worth(gz)) await writeFile(`${path}.gz`, gz);
  if (precompress && worth(br)) await writeFile(`${path}.br`, br);
  return { bytes: data.byteLength, gzip: Math.min(gz.byteLength, data.byteLength), brotli: Math.min(br.byteLength, data.byteLength) };
}

/** Only a `.gz` beside the file (a server that builds bundles on demand needs no brotli's minute). */
export async function gzipBeside(path: string): Promise<void> {
  if (!COMPRESSIBLE.test(path)) return;
  const data = await readFile(path);
  const gz = await gzipAsync(data, { level: 6 });
  if (gz.byteLength <= data.byteLength * 0.9) await writeFile(`${path}.gz`, gz);
}
