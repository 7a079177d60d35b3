import { readFile, writeFile } from 'node:fs/promises';
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

/**
 * Measures one file gzipped (level 9) and brotli'd (quality 9); with `precompress`, writes them
 * beside it as `.gz` and `.br` when they save at least a tenth, for hosts that serve precompressed
 * files (nginx gzip_static/brotli_static, Caddy `precompressed`, Slipway's /edge route).
 */
export async function measureFile(path: string, precompress: boolean): Promise<FileSize> {
  const data = await readFile(path);
  if (!COMPRESSIBLE.test(path)) return { bytes: data.byteLength, gzip: data.byteLength, brotli: data.byteLength };
  // zlib's async calls run on libuv's thread pool, so the files of a bundle compress in parallel.
  const [gz, br] = await Promise.all([
    gzipAsync(data, { level: 9 }),
    brotliAsync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength } }),
  ]);
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
