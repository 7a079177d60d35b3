import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';

/** One file of a build context, as it is hashed and as the image receives it. */
export interface ContextFile {
  /** Relative to the context root, with `/` separators. */
  path: string;
  sha256: string;
  sizeBytes: number;
  executable: boolean;
}

export interface ContextDigest {
  /** `sha256:<hex>` over every file's path, mode and content: equal inputs give an equal digest. */
  digest: string;
  files: ContextFile[];
  sizeBytes: number;
}

/** SHA-256 of a file's bytes, as lower-case hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Normalises modes (0644, or 0755 for executables; folders 0755) so the image does not inherit
 * whatever umask or checkout made the sources, then hashes every file. Paths, modes and content
 * enter the digest; timestamps and owners do not, since no builder is promised to keep them.
 */
export async function digestContext(root: string, exclude: ReadonlySet<string> = new Set()): Promise<ContextDigest> {
  const files: ContextFile[] = [];
  await walk(root, root, exclude, files);
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file.sha256} ${file.executable ? '755' : '644'} ${file.path}\n`);
  return { digest: `sha256:${hash.digest('hex')}`, files, sizeBytes: files.reduce((sum, f) => sum + f.sizeBytes, 0) };
}

async function walk(root: string, dir: string, exclude: ReadonlySet<string>, out: ContextFile[]): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    const path = relative(root, full).split(sep).join(posix.sep);
    if (exclude.has(path)) continue;
    if (entry.isDirectory()) {
      await walk(root, full, exclude, out);
    } else if (entry.isFile()) {
      const info = await lstat(full);
      const executable = (info.mode & 0o111) !== 0;
      await chmod(full, executable ? 0o755 : 0o644);
      out.push({ path, sha256: await sha256File(full), sizeBytes: info.size, executable });
    } else {
      // Everything is copied dereferenced, so a link here means a bug in the staging, not input.
      throw new Error(`build context holds ${path}, which is neither a file nor a folder`);
    }
  }
}

/** `sha256sum -c` format: `<hex>  <path>` per line, in the given (sorted) order. */
export function sha256sums(files: readonly ContextFile[]): string {
  return files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
}
