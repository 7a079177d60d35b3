import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServingError } from '../errors/serving-error.js';

/** Where `npm run build` (scripts/build-edge.ts) writes the bundle runtime: dist/src/edge/static, beside this file once compiled. */
export const EDGE_STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

/**
 * onnxruntime-web's builds a bundle may ship, by execution provider. Since 1.19 one threaded SIMD
 * wasm serves one thread and many (it only spawns threads when the page is cross-origin isolated);
 * the WebGPU build is its own, larger wasm (asyncify). The other builds (JSEP, JSPI, WebGL, the
 * "all" bundles) are never shipped.
 */
export const ORT_BUILDS = {
  wasm: { module: 'ort.wasm.min.mjs', files: ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'] },
  webgpu: { module: 'ort.webgpu.min.mjs', files: ['ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'] },
} as const;

/** onnxruntime-web's dist folder, found the way Node finds the package from here. */
export function ortWebDir(): string {
  const require = createRequire(import.meta.url);
  let wasm: string;
  try {
    // The exports map names the wasm files but not the folder or the .min.mjs builds.
    wasm = require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm');
  } catch {
    throw new ServingError('CONFIG_INVALID', 'onnxruntime-web is not installed: `npm install onnxruntime-web` (slipway edge ships its wasm builds)');
  }
  return dirname(wasm);
}

/** The built runtime's folder; a clear error when `npm run build` has not bundled it. */
export function edgeStaticDir(): string {
  if (!existsSync(join(EDGE_STATIC_DIR, 'slipway.js'))) {
    throw new ServingError('CONFIG_INVALID', `the edge runtime is not built (${EDGE_STATIC_DIR} is missing): run \`npm run build\``);
  }
  return EDGE_STATIC_DIR;
}
