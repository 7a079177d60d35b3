// Module customization hooks (node:module `register`) that let a handler worker import TypeScript:
// `.ts`/`.mts` files are transpiled by esbuild as they load (types stripped, no type checking, as
// tsx and Node's own type stripping do), and `./x.js` imports find `./x.ts` (TypeScript's NodeNext
// convention). Users never pre-compile their handlers.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { stop, transform } from 'esbuild';

const TS_URL = /\.m?ts$/;

// esbuild runs as a service process per thread. A handler's files load in one burst when its worker
// starts, so the service is let go once idle; a later import starts a new one.
const IDLE_MS = 500;
let transforming = 0;
let idleTimer: NodeJS.Timeout | undefined;

function releaseWhenIdle(): void {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (transforming === 0) void stop();
  }, IDLE_MS);
  idleTimer.unref();
}
const RELATIVE = /^\.{1,2}\/|^\/|^file:/;

interface ResolveContext {
  parentURL?: string;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
interface LoadContext {
  format?: string | null;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
interface LoadResult {
  format: string;
  source?: string | ArrayBuffer | Uint8Array;
  shortCircuit?: boolean;
}

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: (specifier: string, context: ResolveContext) => Promise<ResolveResult>,
): Promise<ResolveResult> {
  try {
    return await next(specifier, context);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !RELATIVE.test(specifier) || !TS_URL.test(context.parentURL ?? '')) throw error;
    // Only TypeScript files get TypeScript's resolution rules; JavaScript keeps Node's.
    for (const candidate of tsCandidates(specifier)) {
      try {
        return await next(candidate, context);
      } catch {
        // try the next spelling
      }
    }
    throw error;
  }
}

function tsCandidates(specifier: string): string[] {
  if (specifier.endsWith('.js')) return [`${specifier.slice(0, -3)}.ts`];
  if (specifier.endsWith('.mjs')) return [`${specifier.slice(0, -4)}.mts`];
  if (!/\.[a-z]+$/i.test(specifier)) return [`${specifier}.ts`, `${specifier}/index.ts`];
  return [];
}

export async function load(
  url: string,
  context: LoadContext,
  next: (url: string, context: LoadContext) => Promise<LoadResult>,
): Promise<LoadResult> {
  if (!url.startsWith('file:') || !TS_URL.test(new URL(url).pathname)) return next(url, context);
  const path = fileURLToPath(url);
  const source = await readFile(path, 'utf8');
  transforming += 1;
  try {
    const result = await transform(source, {
      loader: 'ts',
      format: 'esm',
      target: 'node20',
      sourcefile: path,
      // Inline source maps let stack traces (process.setSourceMapsEnabled) point into the .ts file.
      sourcemap: 'inline',
    });
    return { format: 'module', source: result.code, shortCircuit: true };
  } finally {
    transforming -= 1;
    releaseWhenIdle();
  }
}
