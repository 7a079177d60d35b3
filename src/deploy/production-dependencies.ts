import { cp, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { ORT_BUILDS } from '../edge/edge-assets.js';
import { ServingError } from '../errors/serving-error.js';

/** One entry of package-lock.json's `packages` map (lockfile v2/v3), the fields staging reads. */
interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
  link?: boolean;
}

export interface StagedDependencies {
  /** Lockfile paths copied (`node_modules/zod`, `node_modules/a/node_modules/b`). */
  packages: string[];
  /** Optional packages the lockfile lists but this machine did not install (other platforms' binaries). */
  skippedOptional: string[];
}

/** The platform the staged native addons must run on: the image's. */
export interface TargetPlatform {
  os: 'linux';
  arch: string;
}

/**
 * What `npm ci --omit=dev` would install, copied from this project's installed node_modules: the
 * lockfile's non-dev packages, each checked against the version the lockfile pins. Copying instead
 * of installing needs no registry at build time and keeps native addons already built here; it is
 * correct only when the image's platform is this machine's (Linux, glibc, same CPU), which the
 * caller checks.
 */
export async function stageProductionDependencies(
  projectDir: string,
  destination: string,
  target: TargetPlatform,
): Promise<StagedDependencies> {
  const packages = await productionPackages(projectDir);
  const staged: string[] = [];
  const skippedOptional: string[] = [];
  const problems: string[] = [];
  for (const [path, entry] of packages) {
    const source = join(projectDir, path);
    let installed: { version?: string } | undefined;
    try {
      installed = JSON.parse(await readFile(join(source, 'package.json'), 'utf8')) as { version?: string };
    } catch {
      installed = undefined;
    }
    if (installed === undefined) {
      if (entry.optional === true) skippedOptional.push(path);
      else problems.push(`${path} is not installed`);
      continue;
    }
    if (entry.version !== undefined && installed.version !== entry.version) {
      problems.push(`${path} is ${installed.version ?? 'unversioned'}, package-lock.json pins ${entry.version}`);
      continue;
    }
    const prune = pruneRules(path, target);
    await cp(source, join(destination, path), {
      recursive: true,
      dereference: true,
      // Nested node_modules hold packages with their own lockfile entries (and their own dev flag).
      filter: (from) => {
        const inside = relative(source, from).split(sep).join('/');
        return inside !== 'node_modules' && !prune(inside);
      },
    });
    staged.push(path);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('\n  ');
    const more = problems.length > 10 ? `\n  … and ${problems.length - 10} more` : '';
    throw new ServingError(
      'CONFIG_INVALID',
      `node_modules does not match package-lock.json (run \`npm ci\` first):\n  ${shown}${more}`,
    );
  }
  return { packages: staged, skippedOptional };
}

/** The lockfile's production packages, in lockfile order (stable, so the context is too). */
export async function productionPackages(projectDir: string): Promise<Array<[string, LockEntry]>> {
  const file = join(projectDir, 'package-lock.json');
  let lock: { lockfileVersion?: number; packages?: Record<string, LockEntry> };
  try {
    lock = JSON.parse(await readFile(file, 'utf8')) as typeof lock;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message;
    throw new ServingError(
      'CONFIG_INVALID',
      `slipway build installs production dependencies from ${file}, but ${reason}: run \`npm install\` to write it`,
    );
  }
  if (lock.packages === undefined || (lock.lockfileVersion ?? 1) < 2) {
    throw new ServingError('CONFIG_INVALID', `${file} is a lockfile v1: rewrite it with npm 7 or newer (\`npm install\`)`);
  }
  const out: Array<[string, LockEntry]> = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') continue;
    if (!path.startsWith('node_modules/')) {
      // Workspace members are linked in as `node_modules/<name>` entries and copied from there.
      continue;
    }
    // devOptional: optional somewhere, but only under dev dependencies, so --omit=dev leaves it out.
    if (entry.dev === true || entry.devOptional === true) continue;
    out.push([path, entry]);
  }
  return out;
}

/**
 * Files that a production image never loads: other platforms' prebuilt binaries, node-gyp's
 * intermediate objects, and the browser runtime's builds a bundle does not ship. Each rule is specific, since a wrong guess breaks the image at run time.
 */
function pruneRules(lockPath: string, target: TargetPlatform): (inside: string) => boolean {
  const name = lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const gypIntermediates = (inside: string): boolean =>
    /^build\/Release\/(obj|obj\.target|\.deps)(\/|$)/.test(inside) || /^build\/Release\/[^/]+\.a$/.test(inside);
  if (name === 'onnxruntime-node') {
    // bin/napi-v6/<os>/<arch>/: ~250 MB for the platforms the image does not run on.
    return (inside) => {
      const match = /^bin\/napi-v\d+\/([^/]+)(?:\/([^/]+))?/.exec(inside);
      if (match === null) return false;
      if (match[1] !== target.os) return true;
      return match[2] !== undefined && match[2] !== target.arch;
    };
  }
  if (name === 'onnxruntime-web') {
    // dist/ holds every build of the browser runtime (~136 MB); a browser bundle ships only these.
    const shipped = new Set<string>(Object.values(ORT_BUILDS).flatMap((build) => build.files));
    return (inside) => inside.startsWith('dist/') && !shipped.has(inside.slice('dist/'.length));
  }
  if (name === 'better-sqlite3') {
    // SQLite's amalgamation and the C++ sources only serve a rebuild; the addon is already built.
    return (inside) => gypIntermediates(inside) || /^(deps|src)(\/|$)/.test(inside);
  }
  return gypIntermediates;
}
