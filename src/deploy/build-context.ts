import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { stringify } from 'yaml';
import type { ProjectConfig } from '../config/project-config.js';
import { ServingError } from '../errors/serving-error.js';
import { discoverModels, type ModelSource } from '../repository/discover.js';
import { SLIPWAY_VERSION } from '../version.js';
import { digestContext, sha256sums } from './context-digest.js';
import {
  APP_DIR,
  DEFAULT_BASE_IMAGE,
  renderContainerfile,
  renderDockerignore,
  renderHealthcheck,
  type DependencyMode,
} from './containerfile.js';
import { renderKubernetesManifest, renderMonitoringManifest, renderPrometheusAdapterValues } from './kubernetes-manifest.js';
import { renderKServeManifest } from './kserve-manifest.js';
import { renderKnativeManifest } from './knative-manifest.js';
import { productionPackages, stageProductionDependencies } from './production-dependencies.js';
import { cpuCores } from './resource-quantities.js';

/** Marks a folder as a build context that `slipway build` may replace. */
const MARKER = '.slipway-context';
/** The models' manifest, in `sha256sum -c` format, at `models/SHA256SUMS` (`/app/models/SHA256SUMS` in the image). */
export const MODELS_MANIFEST = 'SHA256SUMS';
export const KUBERNETES_MANIFEST = 'kubernetes.yaml';

/** The deployment files `slipway build` writes beside the image's context (never sent to the builder). */
export const DEPLOY_MANIFESTS = [KUBERNETES_MANIFEST, 'monitoring.yaml', 'prometheus-adapter-values.yaml', 'kserve.yaml', 'knative.yaml'] as const;

const HANDLER_FILE = /^handler\.(ts|mts|js|mjs)$/;

export interface BuildContextOptions {
  /** The folder to write; replaced if it holds an earlier context, refused if it holds anything else. */
  outDir: string;
  /** Default: `staged` on Linux with glibc (this machine's addons fit the image), else `install`. */
  dependencies?: DependencyMode;
  /** The image reference the Kubernetes manifest points at. */
  imageTag: string;
}

export interface BuiltModel {
  name: string;
  /** The model's handler file, when its folder has one. */
  handler?: string;
  files: number;
  sizeBytes: number;
}

export interface BuildContext {
  dir: string;
  /** `sha256:…` over every file's path, mode and content; equal inputs give an equal digest. */
  digest: string;
  files: number;
  sizeBytes: number;
  models: BuiltModel[];
  dependencies: { mode: DependencyMode; reason: string; packages: number; skippedOptional: string[] };
  /** Default of the Containerfile's BASE_IMAGE argument. */
  baseImage: string;
  /** Image labels that describe the project (the Containerfile has them too). */
  labels: Record<string, string>;
  warnings: string[];
}

interface PackageJson {
  name?: string;
  version?: string;
  scripts?: unknown;
  [key: string]: unknown;
}

/**
 * Writes everything an image build needs into one folder: the Containerfile, `.dockerignore`, the
 * app (package.json, lockfile, slipway's compiled code, generated slipway.yaml and health check),
 * the production dependencies, and the models with a SHA-256 manifest. Symlinks are followed, so
 * models linked from node_modules land in the image as files. Nothing in the folder depends on
 * time or on the machine beyond the inputs, so equal inputs give an equal digest.
 *
 * @example
 * const project = await loadProjectConfig('slipway.yaml');
 * const context = await writeBuildContext(project, { outDir: '.slipway/build', imageTag: 'demo:latest' });
 * console.log(context.digest); // sha256:…
 */
export async function writeBuildContext(project: ProjectConfig, options: BuildContextOptions): Promise<BuildContext> {
  const outDir = resolve(project.dir, options.outDir);
  await assertReplaceable(outDir, project.dir);
  const pkg = await readPackageJson(project.dir);
  const dependencies = chooseDependencyMode(options.dependencies);
  const entrypoint = await findEntrypoint(project.dir, pkg);
  const warnings = entrypoint.self ? await staleBuildWarnings(project.dir) : [];

  const work = `${outDir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const models = await stageModels(project, join(work, 'models'));
    const modelDigest = await digestContext(join(work, 'models'));
    await writeFile(join(work, 'models', MODELS_MANIFEST), sha256sums(modelDigest.files));

    const app = join(work, 'app');
    await mkdir(app, { recursive: true });
    const productionPkg = withoutScripts(pkg);
    await writeFile(join(app, 'package.json'), `${JSON.stringify(productionPkg, null, 2)}\n`);
    await cp(join(project.dir, 'package-lock.json'), join(app, 'package-lock.json'));
    if (entrypoint.self) await stageCompiledCode(project.dir, app);
    for (const [index, path] of project.include.entries()) {
      const source = resolve(project.dir, path);
      if (!(await exists(source))) {
        throw new ServingError('CONFIG_INVALID', `${project.file}: include[${index}]: ${path} does not exist`);
      }
      await cp(source, join(app, path), { recursive: true, dereference: true, filter: (from) => !skippedName(from, source) });
    }
    await writeFile(join(app, 'slipway.yaml'), imageProjectFile(project));
    await writeFile(join(app, 'healthcheck.mjs'), renderHealthcheck());

    let staged = { packages: [] as string[], skippedOptional: [] as string[] };
    if (dependencies.mode === 'staged') {
      staged = await stageProductionDependencies(project.dir, join(work, 'deps'), { os: 'linux', arch: process.arch });
    } else {
      const npm = join(work, 'npm');
      await mkdir(npm, { recursive: true });
      await writeFile(join(npm, 'package.json'), `${JSON.stringify(productionPkg, null, 2)}\n`);
      await cp(join(project.dir, 'package-lock.json'), join(npm, 'package-lock.json'));
      const npmrc = await readOptional(join(project.dir, '.npmrc'));
      if (npmrc !== undefined) await writeFile(join(npm, '.npmrc'), withoutCredentials(npmrc));
      staged.packages = (await productionPackages(project.dir)).map(([path]) => path);
    }

    const baseImage = project.runtime.base_image ?? DEFAULT_BASE_IMAGE;
    const labels = imageLabels(project, pkg, models);
    const { cpu } = project.runtime.resources;
    await writeFile(
      join(work, 'Containerfile'),
      renderContainerfile({
        projectName: project.name,
        slipwayVersion: SLIPWAY_VERSION,
        baseImage,
        entrypoint: entrypoint.path,
        dependencies: dependencies.mode,
        debianPackages: project.runtime.debian_packages,
        environment: project.runtime.environment,
        ports: project.runtime.ports,
        // Instances are planned per core; a fractional request still gets one.
        ...(cpu !== undefined && { cores: Math.max(1, Math.ceil(cpuCores(cpu))) }),
        labels,
      }),
    );
    await writeFile(join(work, '.dockerignore'), `${renderDockerignore()}${DEPLOY_MANIFESTS.join('\n')}\n`);
    await writeFile(join(work, MARKER), 'A build context written by `slipway build`, which replaces this folder on its next run.\n');
    const digest = await digestContext(work, new Set([MARKER]));
    const manifests: Record<(typeof DEPLOY_MANIFESTS)[number], string> = {
      'kubernetes.yaml': renderKubernetesManifest(project, options.imageTag),
      'monitoring.yaml': renderMonitoringManifest(project),
      'prometheus-adapter-values.yaml': renderPrometheusAdapterValues(),
      'kserve.yaml': renderKServeManifest(project, options.imageTag),
      'knative.yaml': renderKnativeManifest(project, options.imageTag),
    };
    for (const [file, text] of Object.entries(manifests)) await writeFile(join(work, file), text);

    await rm(outDir, { recursive: true, force: true });
    await mkdir(dirname(outDir), { recursive: true });
    await rename(work, outDir);
    return {
      dir: outDir,
      digest: digest.digest,
      files: digest.files.length,
      sizeBytes: digest.sizeBytes,
      models,
      dependencies: { ...dependencies, packages: staged.packages.length, skippedOptional: staged.skippedOptional },
      baseImage,
      labels,
      warnings,
    };
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

/** Refuses to replace a folder that `slipway build` did not write (it may be someone's work). */
async function assertReplaceable(outDir: string, projectDir: string): Promise<void> {
  if (projectDir === outDir || projectDir.startsWith(`${outDir}${sep}`)) {
    throw new ServingError('CONFIG_INVALID', `--out ${outDir} would replace the project itself`);
  }
  let entries: string[];
  try {
    entries = await readdir(outDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ServingError('CONFIG_INVALID', `--out ${outDir} is not a folder: ${(error as Error).message}`);
  }
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new ServingError(
      'CONFIG_INVALID',
      `--out ${outDir} holds files that slipway build did not write; choose an empty or new folder`,
    );
  }
}

async function readPackageJson(projectDir: string): Promise<PackageJson> {
  const file = join(projectDir, 'package.json');
  const text = await readOptional(file);
  if (text === undefined) {
    throw new ServingError(
      'CONFIG_INVALID',
      `slipway build needs ${file} and its package-lock.json (the image installs what they pin): run \`npm init -y && npm install slipway\``,
    );
  }
  try {
    return JSON.parse(text) as PackageJson;
  } catch (error) {
    throw new ServingError('CONFIG_INVALID', `${file} is not valid JSON: ${(error as Error).message}`);
  }
}

function chooseDependencyMode(requested: DependencyMode | undefined): { mode: DependencyMode; reason: string } {
  const glibc = process.platform === 'linux' && hostGlibc() !== undefined;
  if (requested === 'install') return { mode: 'install', reason: 'asked for: npm ci --omit=dev in the image' };
  if (requested === 'staged') {
    if (!glibc) {
      throw new ServingError(
        'CONFIG_INVALID',
        `--dependencies staged copies this machine's native addons, which need Linux with glibc (this is ${process.platform}${
          process.platform === 'linux' ? ' without glibc' : ''
        }): use --dependencies install`,
      );
    }
    return { mode: 'staged', reason: `asked for: copied from node_modules (linux-${process.arch}, glibc ${hostGlibc()})` };
  }
  return glibc
    ? { mode: 'staged', reason: `copied from node_modules: this machine (linux-${process.arch}, glibc ${hostGlibc()}) matches the image` }
    : { mode: 'install', reason: `npm ci in the image: native addons built on ${process.platform} would not run in it` };
}

function hostGlibc(): string | undefined {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime;
}

/** The slipway CLI inside the app: this package's own build, or the project's slipway dependency. */
async function findEntrypoint(projectDir: string, pkg: PackageJson): Promise<{ path: string; self: boolean }> {
  if (pkg.name === 'slipway') {
    const path = 'dist/src/cli/main.js';
    if (!(await exists(join(projectDir, path)))) {
      throw new ServingError('CONFIG_INVALID', `${join(projectDir, path)} is missing: run \`npm run build\` first`);
    }
    return { path, self: true };
  }
  const production = await productionPackages(projectDir);
  if (!production.some(([path]) => path === 'node_modules/slipway')) {
    throw new ServingError(
      'CONFIG_INVALID',
      `slipway is not a production dependency of ${join(projectDir, 'package.json')}: run \`npm install slipway\` (not --save-dev)`,
    );
  }
  return { path: 'node_modules/slipway/dist/src/cli/main.js', self: false };
}

/** Sources newer than their compiled output: the image would ship yesterday's code. */
async function staleBuildWarnings(projectDir: string): Promise<string[]> {
  const stale: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      // A folder with its own tsconfig.json is built by its own step (src/ui/web: the browser bundle), not into dist/ file by file.
      if (entry.isDirectory()) {
        if (!(await exists(join(full, 'tsconfig.json')))) await visit(full);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const rel = relative(projectDir, full);
        const compiled = join(projectDir, 'dist', rel.replace(/\.ts$/, '.js'));
        const [source, output] = await Promise.all([stat(full), stat(compiled).catch(() => undefined)]);
        if (output === undefined || output.mtimeMs < source.mtimeMs) stale.push(rel);
      }
    }
  };
  if (await exists(join(projectDir, 'src'))) await visit(join(projectDir, 'src'));
  if (stale.length === 0) return [];
  return [`dist/ is older than ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ` and ${stale.length - 3} more` : ''}: run \`npm run build\``];
}

/**
 * What Slipway itself runs from, when the project is Slipway: its compiled code and the .proto files
 * the gRPC server reads at start (`proto/`, found relative to the compiled code).
 */
const SELF_RUNTIME_PATHS = ['dist/src', 'proto'];

/** Compiled JavaScript and its assets; declarations, source maps and tsc's state stay behind. */
async function stageCompiledCode(projectDir: string, app: string): Promise<void> {
  for (const path of SELF_RUNTIME_PATHS) {
    const source = join(projectDir, path);
    if (!(await exists(source))) continue;
    await cp(source, join(app, path), {
      recursive: true,
      dereference: true,
      filter: (from) => !/\.(d\.ts|map|tsbuildinfo)$/.test(from),
    });
  }
}

/** Each model as a folder under `models/`, named as the server names it; a lone .onnx becomes version 1. */
async function stageModels(project: ProjectConfig, destination: string): Promise<BuiltModel[]> {
  let sources: ModelSource[];
  try {
    sources = await discoverModels(project.models.map((m) => resolve(project.dir, m)));
  } catch (error) {
    if (error instanceof ServingError) throw new ServingError(error.code, `${project.file}: models: ${error.message}`);
    throw error;
  }
  const built: BuiltModel[] = [];
  for (const source of sources) {
    const target = join(destination, source.name);
    try {
      if (source.kind === 'file') {
        await mkdir(join(target, '1'), { recursive: true });
        await cp(source.file, join(target, '1', 'model.onnx'), { dereference: true });
      } else {
        await cp(source.dir, target, { recursive: true, dereference: true, filter: (from) => !skippedName(from, source.dir) });
      }
    } catch (error) {
      const path = (error as NodeJS.ErrnoException).path;
      throw new ServingError(
        'CONFIG_INVALID',
        `model '${source.name}': cannot copy ${path ?? (source.kind === 'file' ? source.file : source.dir)}: ${
          (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (a broken symlink? `npm run models` links the OCR weights)' : (error as Error).message
        }`,
      );
    }
    const { files, sizeBytes } = await digestContext(target);
    const handler = (await readdir(target)).find((name) => HANDLER_FILE.test(name));
    built.push({ name: source.name, files: files.length, sizeBytes, ...(handler !== undefined && { handler }) });
  }
  return built;
}

/** Hidden files, dependency folders and Python caches are never part of a model. */
function skippedName(path: string, root: string): boolean {
  if (path === root) return false;
  const name = path.slice(path.lastIndexOf(sep) + 1);
  return name.startsWith('.') || name === 'node_modules' || name === '__pycache__';
}

/** The image's own slipway.yaml: the project's server settings, serving the models it carries. */
function imageProjectFile(project: ProjectConfig): string {
  const file = { name: project.name, models: ['models'], ...(Object.keys(project.server).length > 0 && { server: project.server }) };
  return `# Generated by slipway build from the project's slipway.yaml; the image serves ${APP_DIR}/models.\n${stringify(file)}`;
}

function imageLabels(project: ProjectConfig, pkg: PackageJson, models: readonly BuiltModel[]): Record<string, string> {
  const { resources } = project.runtime;
  return {
    // SageMaker then passes SAGEMAKER_BIND_TO_PORT, which the server listens on.
    'com.amazonaws.sagemaker.capabilities.accept-bind-to-port': 'true',
    'org.opencontainers.image.title': project.name,
    ...(typeof pkg.version === 'string' && { 'org.opencontainers.image.version': pkg.version }),
    'io.slipway.version': SLIPWAY_VERSION,
    'io.slipway.models': models.map((m) => m.name).join(','),
    ...(resources.cpu !== undefined && { 'io.slipway.resources.cpu': String(resources.cpu) }),
    ...(resources.memory !== undefined && { 'io.slipway.resources.memory': resources.memory }),
    ...(resources.gpu > 0 && { 'io.slipway.resources.gpu': String(resources.gpu) }),
  };
}

function withoutScripts(pkg: PackageJson): PackageJson {
  // Lifecycle scripts (prepare, postinstall) build from sources the image does not carry.
  const { scripts: _scripts, ...rest } = pkg;
  return rest;
}

/** A build stage may keep its files in a layer: no registry credentials go into the context. */
function withoutCredentials(npmrc: string): string {
  return npmrc
    .split('\n')
    .filter((line) => !/(_auth|_authToken|_password|username|email|certfile|keyfile)\s*=/.test(line))
    .join('\n');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
