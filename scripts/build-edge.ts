// Bundles the browser side of `slipway edge` (src/edge/web) with esbuild into dist/src/edge/static:
// the typed API (slipway.js, and its types in slipway.d.ts), its worker (device-worker.js), what compiled handlers import as
// 'slipway' (handler-api.js) and the on-device page (edge-page.js/.css). `slipway edge` copies them
// into every bundle. The four share chunks, so a handler and the runtime share one zod and one
// ServingError. The image seam is switched from sharp to the browser's decoder here.
import { copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDtsBundle } from 'dts-bundle-generator';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = join(ROOT, 'src/edge/web');
const OUT = join(ROOT, 'dist/src/edge/static');

/** runtime/handler/image.ts imports './image-codec.js' (sharp); the browser gets canvas-image-codec.ts. */
const browserImageCodec: Plugin = {
  name: 'slipway-browser-image-codec',
  setup(build) {
    build.onResolve({ filter: /^\.\/image-codec\.js$/ }, (args) =>
      /[\\/]runtime[\\/]handler[\\/]image\.ts$/.test(args.importer) ? { path: join(SOURCE, 'canvas-image-codec.ts') } : undefined,
    );
  },
};

/** Folders whose types slipway.d.ts may take in (a superset of slipway.ts's import graph). */
const TYPE_SOURCES = ['src/edge', 'src/config', 'src/errors', 'src/tensor', 'src/protocol', 'src/ui/model-example.ts', 'src/repository/model-state.ts'];

async function newestChange(paths: string[]): Promise<number> {
  let newest = 0;
  for (const path of paths) {
    const info = await stat(join(ROOT, path));
    if (info.isFile()) newest = Math.max(newest, info.mtimeMs);
    else {
      for (const entry of await readdir(join(ROOT, path), { recursive: true, withFileTypes: true })) {
        if (entry.isFile() && /\.tsx?$/.test(entry.name)) newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
      }
    }
  }
  return newest;
}

/**
 * The API's types in one self-contained file, for pages written in TypeScript. Type-checking the
 * graph takes a while, so it is only redone when a source it may come from has changed.
 */
async function apiTypes(): Promise<string> {
  const file = join(ROOT, 'dist/.edge-types/slipway.d.ts');
  const built = await stat(file).catch(() => undefined);
  if (built !== undefined && built.mtimeMs > (await newestChange(TYPE_SOURCES))) return file;
  const [types] = generateDtsBundle([{ filePath: join(SOURCE, 'slipway.ts'), output: { noBanner: true } }], { preferredConfigPath: join(SOURCE, 'tsconfig.types.json') });
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, types!);
  return file;
}

const started = performance.now();
await rm(OUT, { recursive: true, force: true });
await mkdir(OUT, { recursive: true });
const result = await build({
  entryPoints: {
    slipway: join(SOURCE, 'slipway.ts'),
    'device-worker': join(SOURCE, 'device-worker.ts'),
    'handler-api': join(SOURCE, 'handler-api.ts'),
    'edge-page': join(SOURCE, 'edge-page.tsx'),
  },
  outdir: OUT,
  entryNames: '[name]',
  // Chunks beside the entries: the runtime finds the bundle (and its worker) from import.meta.url,
  // which is the chunk's address once shared code moves into one.
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  // Module workers and WebAssembly SIMD: what onnxruntime-web needs anyway.
  target: ['chrome109', 'firefox115', 'safari16.4'],
  minify: true,
  sourcemap: 'linked',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(SOURCE, 'tsconfig.json'),
  plugins: [browserImageCodec],
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
await copyFile(join(SOURCE, 'index.html'), join(OUT, 'index.html'));
// What compiled handlers may import from 'slipway' (slipway edge checks their imports against it).
const api = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('/handler-api.js'));
if (api === undefined) throw new Error('build-edge: no handler-api.js output');
await writeFile(join(OUT, 'handler-api.exports.json'), `${JSON.stringify(api[1].exports.sort())}\n`);
await copyFile(await apiTypes(), join(OUT, 'slipway.d.ts'));
const bytes = Object.entries(result.metafile.outputs)
  .filter(([path]) => !path.endsWith('.map'))
  .reduce((sum, [, o]) => sum + o.bytes, 0);
process.stdout.write(`build-edge: ${Object.keys(result.metafile.outputs).filter((p) => !p.endsWith('.map')).length} files (${(bytes / 1024).toFixed(0)} KiB) in ${Math.round(performance.now() - started)} ms\n`);
