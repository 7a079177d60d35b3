import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BuildReport } from '../../src/cli/build.js';
import { ROOT } from '../helpers/paths.js';
import { runCli } from '../helpers/batch-data.js';

/**
 * podman as these machines need it (rootful, no systemd): runc, cgroupfs and no default ulimits,
 * set in a containers.conf that every podman started with `env` reads, `slipway build`'s included.
 */
export async function podmanEnvironment(dir: string): Promise<NodeJS.ProcessEnv> {
  const file = join(dir, 'containers.conf');
  await writeFile(file, '[containers]\ndefault_ulimits = []\n\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n');
  return { ...process.env, CONTAINERS_CONF: file };
}

export interface Podman {
  (args: string[], options?: { allowFailure?: boolean; timeoutMs?: number }): { status: number; stdout: string; stderr: string };
}

export function podman(env: NodeJS.ProcessEnv): Podman {
  return (args, options = {}) => {
    const result = spawnSync('podman', args, { env, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
    const status = result.status ?? -1;
    if (status !== 0 && options.allowFailure !== true) {
      throw new Error(`podman ${args.join(' ')} failed (${status}):\n${result.stderr}${result.error?.message ?? ''}`);
    }
    return { status, stdout: result.stdout, stderr: result.stderr };
  };
}

/**
 * A local stand-in for node:20-bookworm-slim, since no registry can be pulled from here: `FROM
 * scratch` plus this machine's `node` and the shared libraries that it and the project's native
 * addons (onnxruntime, sharp's libvips, better-sqlite3) link against, as Debian lays them out.
 * It has no shell and no package manager, so it also proves the Containerfile needs neither.
 */
export async function importTestBaseImage(run: Podman, projectDir: string, workDir: string, tag: string): Promise<void> {
  const rootfs = join(workDir, 'rootfs');
  const binaries = [process.execPath, ...(await nativeAddons(join(projectDir, 'node_modules')))];
  const libraries = new Set<string>();
  for (const binary of binaries) {
    const ldd = spawnSync('ldd', [binary], { encoding: 'utf8' });
    if (ldd.status !== 0) continue; // another platform's binary, or a static one
    for (const match of ldd.stdout.matchAll(/(?:=>\s*)?(\/[^\s]+)\s+\(0x/g)) {
      const library = match[1]!;
      // Libraries shipped inside node_modules come with the app, not the base.
      if (!library.includes('/node_modules/')) libraries.add(library);
    }
  }
  await place(process.execPath, join(rootfs, 'usr/local/bin/node'));
  for (const library of libraries) await place(library, join(rootfs, library));
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  await mkdir(join(rootfs, 'tmp'), { recursive: true });
  await chmod(join(rootfs, 'tmp'), 0o1777);
  const tarball = join(workDir, 'rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '-cf', tarball, '.']);
  run(['import', '--change', 'ENV=PATH=/usr/local/bin:/usr/bin:/bin', tarball, tag]);
}

async function place(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await copyFile(from, to); // follows links: libc.so.6 arrives as the file it points at
  await chmod(to, 0o755);
}

async function nativeAddons(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) await visit(full);
      else if (/\.node$|\.so(\.\d+)*$/.test(entry.name) && !/\/(darwin|win32)\//.test(full)) found.push(full);
    }
  };
  await visit(dir);
  return found;
}


/**
 * This repository's image, as a user builds it: the local base (no registry here), then `slipway
 * build --engine podman` into `workDir/context`. Throws with the build's output when it fails.
 */
export async function buildRepositoryImage(
  run: Podman,
  env: NodeJS.ProcessEnv,
  workDir: string,
  tags: { base: string; app: string },
): Promise<{ report: BuildReport; output: string }> {
  await importTestBaseImage(run, ROOT, workDir, tags.base);
  const build = await runCli(['build', '--engine', 'podman', '--base-image', tags.base, '--tag', tags.app, '--out', join(workDir, 'context'), '--json'], {
    cwd: ROOT,
    env: { CONTAINERS_CONF: env.CONTAINERS_CONF ?? '' },
    timeoutMs: 600_000,
  });
  if (build.code !== 0) throw new Error(`slipway build failed:\n${build.stderr}`);
  return { report: JSON.parse(build.stdout) as BuildReport, output: build.stderr };
}

/** Polls readiness until it answers 200; gives up with the container's log if it stops or takes minutes. */
export async function waitForReady(url: string, run: Podman, name: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const reply = await fetch(`${url}/v2/health/ready`);
      if (reply.status === 200) return;
      last = `${reply.status} ${await reply.text()}`;
    } catch (error) {
      last = String((error as Error).cause ?? error);
    }
    const state = run(['inspect', '--format', '{{.State.Running}}', name], { allowFailure: true }).stdout.trim();
    if (state !== 'true') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const logs = run(['logs', name], { allowFailure: true });
  throw new Error(`container never became ready (last: ${last}):\n${logs.stdout}${logs.stderr}`);
}
