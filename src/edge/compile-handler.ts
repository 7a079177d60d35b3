// Compiles a model's handler for the browser (esbuild), or says by name why it can only run in
// Node: a built-in module (node:fs, child_process, …) anywhere in its imports, a name from 'slipway'
// that only the server has, or code esbuild cannot bundle for a browser (a native addon).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { build, type BuildFailure, type Message, type Metafile, type Plugin } from 'esbuild';

/** The browser builds' targets (module workers and wasm SIMD, what onnxruntime-web needs anyway). */
export const BROWSER_TARGETS = ['chrome109', 'firefox115', 'safari16.4'];

export type CompiledHandler =
  | { runs: 'device'; file: string }
  | { runs: 'server'; reason: string };

interface NodeImport {
  module: string;
  importer: string;
}

/** 'slipway' as the browser has it: the names of handler-api.js, re-exported from that (external) file. */
function slipwayApi(exports: readonly string[]): Plugin {
  return {
    name: 'slipway-handler-api',
    setup(b) {
      b.onResolve({ filter: /^slipway$/ }, () => ({ path: 'slipway', namespace: 'slipway-api' }));
      b.onResolve({ filter: /^\.\/handler-api\.js$/, namespace: 'slipway-api' }, (args) => ({ path: args.path, external: true }));
      b.onLoad({ filter: /.*/, namespace: 'slipway-api' }, () => ({ contents: `export { ${exports.join(', ')} } from './handler-api.js';`, loader: 'js' }));
    },
  };
}

/** Records Node's built-in modules instead of failing on the first, so every one can be named. */
function nodeBuiltins(found: NodeImport[]): Plugin {
  return {
    name: 'slipway-node-builtins',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point' || !isBuiltin(args.path)) return undefined;
        found.push({ module: args.path, importer: args.importer });
        return { path: args.path, external: true };
      });
    },
  };
}

/** `node_modules/sharp/lib/index.js` → `sharp`; files of the model folder stay relative to it. */
function displayName(path: string, modelDir: string): string {
  const parts = path.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at >= 0 && at + 1 < parts.length) return parts[at + 1]!.startsWith('@') ? `${parts[at + 1]}/${parts[at + 2]}` : parts[at + 1]!;
  return relative(modelDir, path).split(sep).join('/');
}

/** The import chain from the entry to `target` (metafile paths), shortest first. */
function chain(metafile: Metafile, entry: string, target: string): string[] {
  const parents = new Map<string, string | undefined>([[entry, undefined]]);
  const queue = [entry];
  while (queue.length > 0) {
    const current = queue.shift()!;
    if (current === target) break;
    for (const next of metafile.inputs[current]?.imports ?? []) {
      if (next.external === true || parents.has(next.path)) continue;
      parents.set(next.path, current);
      queue.push(next.path);
    }
  }
  const path: string[] = [];
  for (let at: string | undefined = target; at !== undefined; at = parents.get(at)) path.unshift(at);
  return path;
}

function describeNodeImports(found: NodeImport[], metafile: Metafile, entry: string, modelDir: string, cwd: string): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const { module, importer } of found) {
    const importerKey = relative(cwd, importer).split(sep).join('/');
    const route = chain(metafile, relative(cwd, entry).split(sep).join('/'), importerKey)
      .map((p) => displayName(join(cwd, p), modelDir))
      .filter((name, i, all) => all.indexOf(name) === i);
    const line = `${module} (${route.join(' → ')})`;
    if (!seen.has(line)) {
      seen.add(line);
      lines.push(line);
    }
  }
  return `${displayName(entry, modelDir)} imports Node-only modules: ${lines.join(', ')}`;
}

function describeFailure(errors: readonly Message[], apiNames: readonly string[], entry: string, modelDir: string): string {
  // esbuild's locations are relative to its working directory, the model folder.
  const located = (file: string): string => displayName(resolve(modelDir, file), modelDir);
  const handler = displayName(entry, modelDir);
  const missing = errors
    .map((e) => /No matching export in "slipway-api:slipway" for import "([^"]+)"/.exec(e.text)?.[1])
    .filter((name): name is string => name !== undefined);
  if (missing.length > 0) {
    const where = errors.find((e) => e.location !== null)?.location?.file;
    const importer = where === undefined ? handler : located(where);
    return `${importer === handler ? handler : `${handler} (in ${importer})`} imports ${missing.map((n) => `'${n}'`).join(', ')} from 'slipway', which runs only in Node (a browser handler has ${apiNames.join(', ')})`;
  }
  const first = errors[0];
  const at = first?.location ? ` (${located(first.location.file)}:${first.location.line})` : '';
  return `${handler} cannot be compiled for a browser: ${first?.text ?? 'esbuild failed'}${at}`;
}

/**
 * Bundles `handlerFile` and what it imports into `outDir/handler.js` for browsers, importing the
 * handler API from `./handler-api.js` (`apiExports` are its names). A handler that cannot run in a
 * browser is not written; the answer says why in a sentence about the handler's file, naming the
 * modules and the import chain.
 *
 * @example
 * const compiled = await compileHandler('models/ocr/handler.ts', 'out', apiNames);
 * if (compiled.runs === 'server') console.warn(compiled.reason); // 'handler.ts imports Node-only modules: node:fs (handler.ts → labels.ts)'
 */
export async function compileHandler(handlerFile: string, outDir: string, apiExports: readonly string[]): Promise<CompiledHandler> {
  const modelDir = dirname(handlerFile);
  const found: NodeImport[] = [];
  const cwd = modelDir;
  let metafile: Metafile;
  try {
    const result = await build({
      absWorkingDir: cwd,
      entryPoints: [handlerFile],
      outfile: join(outDir, 'handler.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: BROWSER_TARGETS,
      minify: true,
      sourcemap: 'linked',
      metafile: true,
      write: false,
      logLevel: 'silent',
      plugins: [slipwayApi(apiExports), nodeBuiltins(found)],
    });
    metafile = result.metafile;
    if (found.length > 0) return { runs: 'server', reason: describeNodeImports(found, metafile, handlerFile, modelDir, cwd) };
    await mkdir(outDir, { recursive: true });
    for (const output of result.outputFiles) await writeFile(output.path, output.contents);
  } catch (error) {
    const failure = error as BuildFailure;
    if (!Array.isArray(failure.errors)) throw error;
    return { runs: 'server', reason: describeFailure(failure.errors, apiExports, handlerFile, modelDir) };
  }
  return { runs: 'device', file: 'handler.js' };
}

/** The names handler-api.js exports (written by scripts/build-edge.ts). */
export async function handlerApiExports(staticDir: string): Promise<string[]> {
  return JSON.parse(await readFile(join(staticDir, 'handler-api.exports.json'), 'utf8')) as string[];
}
