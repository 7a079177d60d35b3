import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ServingError } from '../errors/serving-error.js';

export type EngineName = 'docker' | 'podman';
export type EngineChoice = EngineName | 'auto' | 'none';

export interface ImageBuild {
  engine: EngineName;
  contextDir: string;
  tag: string;
  buildArgs: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
}

/**
 * The build command, as argv. podman gets `--format docker`: its default OCI format has no
 * HEALTHCHECK, and would drop the image's with only a warning.
 */
export function buildCommand(build: ImageBuild): string[] {
  const args = [build.engine, 'build', '-f', join(build.contextDir, 'Containerfile'), '-t', build.tag];
  if (build.engine === 'podman') args.push('--format', 'docker');
  for (const [key, value] of Object.entries(build.buildArgs)) args.push('--build-arg', `${key}=${value}`);
  for (const [key, value] of Object.entries(build.labels)) args.push('--label', `${key}=${value}`);
  args.push(build.contextDir);
  return args;
}

/** A command line a person can paste into a POSIX shell. */
export function shellLine(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface EngineDetection {
  engine: EngineName | undefined;
  /** Why each engine tried was not used (for the message when none is). */
  notes: string[];
}

/**
 * Finds a container engine that can build: docker only when its daemon answers (a docker CLI
 * without a daemon is common), else podman (daemonless). `auto` tries docker, then podman.
 */
export function detectEngine(choice: EngineChoice): EngineDetection {
  if (choice === 'none') return { engine: undefined, notes: ['--engine none'] };
  const candidates: EngineName[] = choice === 'auto' ? ['docker', 'podman'] : [choice];
  const notes: string[] = [];
  for (const engine of candidates) {
    // docker's CLI is often installed without a daemon: only a server version proves it can build.
    const field = engine === 'docker' ? '{{.Server.Version}}' : '{{.Client.Version}}';
    const probe = spawnSync(engine, ['version', '--format', field], { encoding: 'utf8', timeout: 20_000 });
    if (probe.error !== undefined) {
      notes.push(`${engine}: not installed`);
      continue;
    }
    if (probe.status === 0) return { engine, notes };
    notes.push(`${engine}: ${lastLine(probe.stderr) || `exit code ${probe.status}`}`);
  }
  if (choice !== 'auto') {
    throw new ServingError('CONFIG_INVALID', `--engine ${choice} cannot build here: ${notes.join('; ')}`);
  }
  return { engine: undefined, notes };
}

/**
 * Runs the build, streaming the engine's own output to `log` (its progress is the user's to see),
 * and returns the image id. A failed build is an error carrying the engine's last lines.
 */
export async function buildImage(build: ImageBuild, log: (chunk: string) => void): Promise<string> {
  const [command, ...args] = buildCommand(build);
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString();
    log(text);
    tail = (tail + text).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) {
    throw new ServingError('INTERNAL', `${command} build failed (exit code ${code}):\n${tail.trimEnd()}`);
  }
  return inspect(build.engine, build.tag, '{{.Id}}');
}

/** The image's size in bytes, as the engine reports it (uncompressed, all layers). */
export function imageSizeBytes(engine: EngineName, image: string): number {
  const size = Number(inspect(engine, image, '{{.Size}}'));
  if (!Number.isFinite(size)) throw new ServingError('INTERNAL', `${engine} reported no size for ${image}`);
  return size;
}

function inspect(engine: EngineName, image: string, format: string): string {
  const result = spawnSync(engine, ['image', 'inspect', '--format', format, image], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) {
    throw new ServingError('INTERNAL', `${engine} image inspect ${image} failed: ${firstLine(result.stderr)}`);
  }
  return result.stdout.trim();
}

function firstLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n')[0] ?? '';
}

function lastLine(text: string | undefined): string {
  return (text ?? '').trim().split('\n').at(-1) ?? '';
}
