import type { Command } from 'commander';
import { relative } from 'node:path';
import { findProjectConfig, PROJECT_FILE, type ProjectConfig } from '../config/project-config.js';
import { ServingError } from '../errors/serving-error.js';
import { DEPLOY_MANIFESTS, MODELS_MANIFEST, writeBuildContext, type BuildContext } from '../deploy/build-context.js';
import {
  buildCommand,
  buildImage,
  detectEngine,
  imageSizeBytes,
  shellLine,
  type EngineChoice,
  type ImageBuild,
} from '../deploy/container-engine.js';
import type { DependencyMode } from '../deploy/containerfile.js';
import { cpuCores, memoryBytes } from '../deploy/resource-quantities.js';

interface BuildFlags {
  config?: string;
  out: string;
  tag?: string;
  engine: string;
  baseImage?: string;
  dependencies?: string;
  json?: boolean;
}

/** What `slipway build --json` prints: the context, and the image when one was built. */
export interface BuildReport {
  context: BuildContext;
  command: string[];
  image?: { engine: string; tag: string; id: string; sizeBytes: number };
  /** Why no image was built (no engine, or --engine none). */
  notBuilt?: string;
}

export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('write an OCI build context for the project (slipway.yaml) and build the image with docker or podman')
    .option('--config <file>', `project file (default: ./${PROJECT_FILE})`)
    .option('--out <dir>', 'build context folder, relative to the project', '.slipway/build')
    .option('--tag <image>', 'image reference (default: <name>:latest)')
    .option('--engine <engine>', 'auto|docker|podman|none: none writes the context and prints the build command', 'auto')
    .option('--base-image <image>', 'BASE_IMAGE build argument (default: runtime.base_image, else node:20-bookworm-slim)')
    .option('--dependencies <mode>', 'staged (copy node_modules; Linux/glibc) | install (npm ci in the image)')
    .option('--json', 'print a JSON report on stdout (progress goes to stderr)')
    .action(async (flags: BuildFlags) => {
      const report = await build(flags);
      if (flags.json === true) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    });
}

async function build(flags: BuildFlags): Promise<BuildReport> {
  const engineChoice = oneOf<EngineChoice>('--engine', flags.engine, ['auto', 'docker', 'podman', 'none']);
  const dependencies =
    flags.dependencies === undefined ? undefined : oneOf<DependencyMode>('--dependencies', flags.dependencies, ['staged', 'install']);
  const project = await findProjectConfig(flags.config);
  if (project === undefined) {
    throw new ServingError(
      'CONFIG_INVALID',
      `no ${PROJECT_FILE} in ${process.cwd()}: write one (see the README's "Container image") or pass --config FILE`,
    );
  }
  // Human progress goes to stderr under --json, so stdout stays one JSON document.
  const say = (line: string): void => void (flags.json === true ? process.stderr : process.stdout).write(`${line}\n`);
  const tag = flags.tag ?? `${project.name}:latest`;
  const context = await writeBuildContext(project, {
    outDir: flags.out,
    imageTag: tag,
    ...(dependencies !== undefined && { dependencies }),
  });
  for (const warning of context.warnings) process.stderr.write(`slipway: warning: ${warning}\n`);
  const where = relative(process.cwd(), context.dir) || '.';
  say(`Build context ${where}: ${context.files} files, ${megabytes(context.sizeBytes)}, ${context.digest}`);
  const handlers = context.models.filter((m) => m.handler !== undefined);
  say(
    `  models:       ${context.models.length} (${context.models.map((m) => m.name).join(', ')}), manifest models/${MODELS_MANIFEST}`,
  );
  if (handlers.length > 0) say(`  handlers:     ${handlers.map((m) => `${m.name}/${m.handler}`).join(', ')}`);
  say(`  dependencies: ${context.dependencies.packages} packages from package-lock.json, ${context.dependencies.reason}`);
  say(`  kubernetes:   ${DEPLOY_MANIFESTS.map((f) => `${where}/${f}`).join(', ')}`);

  const buildArgs: Record<string, string> = flags.baseImage === undefined ? {} : { BASE_IMAGE: flags.baseImage };
  const labels = { 'io.slipway.context-digest': context.digest };
  const detection = detectEngine(engineChoice);
  const spec: ImageBuild = { engine: detection.engine ?? 'docker', contextDir: context.dir, tag, buildArgs, labels };
  const command = buildCommand(spec);
  if (detection.engine === undefined) {
    const reason = engineChoice === 'none' ? '--engine none' : `no container engine can build here (${detection.notes.join('; ')})`;
    say(`Not building: ${reason}. Build it with:\n  ${shellLine(command)}`);
    say(`  (podman: ${shellLine(buildCommand({ ...spec, engine: 'podman' }))})`);
    return { context, command, notBuilt: reason };
  }
  say(`Building with ${detection.engine}: ${shellLine(command)}`);
  const id = await buildImage(spec, (chunk) => process.stderr.write(chunk));
  const sizeBytes = imageSizeBytes(detection.engine, tag);
  say(`Image ${tag}: ${megabytes(sizeBytes)} (${id.slice(0, 19)})`);
  say(`Run it:  ${shellLine(runCommand(detection.engine, project, tag))}`);
  return { context, command, image: { engine: detection.engine, tag, id, sizeBytes } };
}

/** `docker run` with the project's ports and resource limits, for the user to paste. */
function runCommand(engine: string, project: ProjectConfig, tag: string): string[] {
  const { ports, resources } = project.runtime;
  const args = [engine, 'run', '--rm', '-p', `${ports.http}:${ports.http}`, '-p', `${ports.grpc}:${ports.grpc}`];
  if (resources.cpu !== undefined) args.push('--cpus', String(cpuCores(resources.cpu)));
  if (resources.memory !== undefined) args.push('--memory', String(memoryBytes(resources.memory)));
  if (resources.gpu > 0) args.push(...(engine === 'podman' ? ['--device', 'nvidia.com/gpu=all'] : ['--gpus', String(resources.gpu)]));
  args.push(tag);
  return args;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ServingError('CONFIG_INVALID', `${flag}: expected one of ${allowed.join(', ')}, got '${value}'`);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
