// Bundles the browser UI (src/ui/web, Preact + TSX) with esbuild into dist/src/ui/static, where the
// server (src/ui/ui-assets.ts) reads it and where `npm pack` and `slipway build` pick it up. Output
// names carry a content hash, so the server can tell browsers to cache them for good.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = join(ROOT, 'src/ui/web');
const OUT = join(ROOT, 'dist/src/ui/static');

const started = performance.now();
await rm(OUT, { recursive: true, force: true });
await mkdir(OUT, { recursive: true });
const result = await build({
  entryPoints: { app: join(SOURCE, 'main.tsx') },
  outdir: OUT,
  entryNames: '[name]-[hash]',
  bundle: true,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'safari15.4'],
  minify: true,
  sourcemap: 'linked',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(SOURCE, 'tsconfig.json'),
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
const script = outputs.find((name) => name.endsWith('.js'));
const style = outputs.find((name) => name.endsWith('.css'));
if (script === undefined || style === undefined) throw new Error(`build-ui: expected a .js and a .css output, got ${outputs.join(', ')}`);
const html = (await readFile(join(SOURCE, 'index.html'), 'utf8')).replace('__JS__', script).replace('__CSS__', style);
await writeFile(join(OUT, 'index.html'), html);
const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
process.stdout.write(`build-ui: ${script}, ${style} (${(bytes / 1024).toFixed(0)} KiB with maps) in ${Math.round(performance.now() - started)} ms\n`);
