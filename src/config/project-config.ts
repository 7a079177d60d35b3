import { access, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, normalize, resolve, sep } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ServingError } from '../errors/serving-error.js';
import { formatIssues } from './format-issues.js';
import { serverConfigSchema, type ServerConfig } from './server-config.js';

/** The file `slipway serve` and `slipway build` look for in the working directory. */
export const PROJECT_FILE = 'slipway.yaml';

// Every server option is valid here under its own name, so an option added to the server schema
// is settable from the project file without touching this one; `models` is the project's own key.
const serverSettings = serverConfigSchema.omit({ models: true }).partial();

/** A path inside the project: relative, and never climbing out of it. */
const projectPath = z
  .string()
  .min(1)
  .refine((p) => !isAbsolute(p) && normalize(p) !== '..' && !normalize(p).startsWith(`..${sep}`), {
    error: 'expected a path relative to slipway.yaml that stays inside the project',
  });

const port = z.number().int().min(1).max(65535);

// Debian Policy 5.6.1 package names, optionally pinned (`libgomp1=12.2.0-14`). Checking the
// characters also keeps them from reaching the Containerfile's shell as anything but names.
const debianPackage = z
  .string()
  .regex(/^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+:~-]+)?$/, 'expected a Debian package name, optionally =version');

// Kubernetes quantities: what the manifests take as they are, and what `podman run` gets converted.
const cpuQuantity = z.union([
  z.number().positive(),
  z.string().regex(/^(\d+(\.\d+)?|\d+m)$/, 'expected cores (2, 0.5) or millicores ("500m")'),
]);
const memoryQuantity = z
  .string()
  .regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/, 'expected a Kubernetes quantity: bytes, or with Ki/Mi/Gi/Ti (or k/M/G/T)');

// These are set by the image from runtime.ports; a second way to set them would let the
// Containerfile's EXPOSE and health check disagree with the port the server opens.
const RESERVED_ENVIRONMENT: Record<string, string> = {
  SLIPWAY_HTTP_PORT: 'runtime.ports.http',
  SLIPWAY_GRPC_PORT: 'runtime.ports.grpc',
  SLIPWAY_HOST: 'nothing: the image listens on 0.0.0.0',
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Checked by hand rather than by a key schema, which zod reports only as "Invalid key in record":
// the author should read which variable is wrong and why, every one of them at once.
const environment = z
  .record(z.string(), z.unknown())
  .superRefine((env, ctx) => {
    for (const [name, value] of Object.entries(env)) {
      const instead = RESERVED_ENVIRONMENT[name];
      if (!ENV_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)' });
      } else if (instead !== undefined) {
        ctx.addIssue({ code: 'custom', path: [name], message: `set by the image; use ${instead}` });
      }
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        ctx.addIssue({ code: 'custom', path: [name], message: `expected a string, number or boolean, got ${value === null ? 'null' : typeof value}` });
      } else if (/[\r\n\0]/.test(String(value))) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'expected a single line (no newlines or NUL)' });
      }
    }
  })
  .transform((env) => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) as Record<string, string>);

const runtimeSchema = z.strictObject({
  /** Overrides the Containerfile's default `BASE_IMAGE` build argument. */
  base_image: z.string().min(1).optional(),
  debian_packages: z.array(debianPackage).default([]),
  environment: environment.default({}),
  resources: z
    .strictObject({
      cpu: cpuQuantity.optional(),
      memory: memoryQuantity.optional(),
      gpu: z.number().int().min(0).default(0),
    })
    .default({ gpu: 0 }),
  ports: z.strictObject({ http: port.default(8000), grpc: port.default(8001) }).default({ http: 8000, grpc: 8001 }),
  /** How the generated Kubernetes objects scale (HorizontalPodAutoscaler, Knative, PodDisruptionBudget). */
  scaling: z
    .strictObject({
      min_replicas: z.number().int().min(1).default(2),
      max_replicas: z.number().int().min(1).default(10),
      /** Scale out above this average CPU use, in percent of the request. */
      cpu_utilization: z.number().int().min(1).max(100).default(70),
      /** ... or above this many queued requests per pod (slipway_queue_depth, through prometheus-adapter). */
      queue_depth: z.number().int().min(1).default(8),
      /** Knative: requests in flight per pod that it scales for. */
      concurrency: z.number().int().min(1).default(16),
    })
    .refine((s) => s.max_replicas >= s.min_replicas, { error: 'max_replicas must be at least min_replicas', path: ['max_replicas'] })
    .default({ min_replicas: 2, max_replicas: 10, cpu_utilization: 70, queue_depth: 8, concurrency: 16 }),
  /** Where KServe's storage initializer fetches the models from (s3://, gs://, pvc://, https://); absent: the models in the image. */
  storage_uri: z.string().regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/, 'expected a URI such as s3://bucket/models/digits or pvc://models/digits').optional(),
});

/** The schema of `slipway.yaml`: what a project serves, how, and what its container needs. */
export const projectConfigSchema = z.strictObject({
  /** Names the image (`slipway build` tags it `NAME:latest`) and the Kubernetes objects. */
  name: z
    .string()
    // A DNS-1035 label: what a Kubernetes Service name must be, and always a valid image name.
    .regex(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected 1-63 lower-case letters, digits or "-", starting with a letter and not ending with "-"'),
  /** Model repositories, model folders or `.onnx` files, relative to slipway.yaml. */
  models: z.array(projectPath).min(1, 'list at least one model repository, model folder or .onnx file'),
  /**
   * Handlers live beside their model (`<model>/handler.ts` or `.js`) and travel with it. Code they
   * import from elsewhere in the project is listed here and copied to the same path in the image.
   */
  include: z.array(projectPath).default([]),
  server: serverSettings.default({}),
  runtime: runtimeSchema.default({
    debian_packages: [],
    environment: {},
    resources: { gpu: 0 },
    ports: { http: 8000, grpc: 8001 },
    scaling: { min_replicas: 2, max_replicas: 10, cpu_utilization: 70, queue_depth: 8, concurrency: 16 },
  }),
});

export type ProjectConfigFile = z.infer<typeof projectConfigSchema>;
export type ProjectRuntime = ProjectConfigFile['runtime'];
export type ServerSettings = Partial<Omit<ServerConfig, 'models'>>;

/** A validated `slipway.yaml`, with its paths resolved against the folder it lives in. */
export interface ProjectConfig {
  /** Absolute path of the file it was read from. */
  file: string;
  /** The project folder: the file's folder. Relative paths in the file are relative to it. */
  dir: string;
  name: string;
  /** Model paths as written (relative to `dir`). */
  models: readonly string[];
  include: readonly string[];
  /** Only the server options the file sets, so defaults never hide the environment's. */
  server: Readonly<ServerSettings>;
  runtime: Readonly<ProjectRuntime>;
}

/**
 * Reads and validates a project file. Every problem is reported at once, each with its field path
 * (`runtime.resources.memory: expected a Kubernetes quantity …`).
 *
 * @example
 * const project = await loadProjectConfig('slipway.yaml');
 * const config = resolveServerConfig(flags, process.env, projectServerLayer(project));
 */
export async function loadProjectConfig(file: string): Promise<ProjectConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ServingError('CONFIG_INVALID', `cannot read project file ${path}: ${reason}`);
  }
  return parseProjectConfigText(text, path);
}

/** Validates project-file text; `file` names it in errors and anchors its relative paths. */
export function parseProjectConfigText(text: string, file: string): ProjectConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ServingError('CONFIG_INVALID', `${file}: not valid YAML: ${(error as Error).message}`);
  }
  const result = projectConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    throw new ServingError('CONFIG_INVALID', `${file}: invalid project file:\n  ${formatIssues(result.error).join('\n  ')}`);
  }
  const data = result.data;
  // The server schema fills in its defaults even when made partial; keep only the options the
  // author wrote, or a default from this layer would override the environment in the merge.
  const written = new Set(Object.keys((raw as { server?: object } | null)?.server ?? {}));
  const server = Object.fromEntries(Object.entries(data.server).filter(([key]) => written.has(key))) as ServerSettings;
  return deepFreeze({
    file,
    dir: dirname(file),
    name: data.name,
    models: data.models,
    include: data.include,
    server,
    runtime: data.runtime,
  });
}

/**
 * The project's layer in the server-option merge (defaults < project file < environment < flags):
 * its server settings plus its models as absolute paths, so the server finds them from any directory.
 */
export function projectServerLayer(project: ProjectConfig): Partial<Record<keyof ServerConfig, unknown>> {
  return { ...project.server, models: project.models.map((m) => resolve(project.dir, m)) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * The project file to use: `explicit` when given (it must exist), else `slipway.yaml` in `cwd`
 * when there is one, else undefined.
 */
export async function findProjectConfig(explicit: string | undefined, cwd: string = process.cwd()): Promise<ProjectConfig | undefined> {
  if (explicit !== undefined) return loadProjectConfig(resolve(cwd, explicit));
  const implicit = resolve(cwd, PROJECT_FILE);
  try {
    await access(implicit);
  } catch {
    return undefined;
  }
  return loadProjectConfig(implicit);
}
