import type { ProjectConfig } from '../config/project-config.js';
import { IMAGE_USER } from './containerfile.js';
import { cpuCores } from './resource-quantities.js';

/** The part of a project the Kubernetes objects are made from. */
export type DeployProject = Pick<ProjectConfig, 'name' | 'runtime'>;

/**
 * How long a pod keeps answering after SIGTERM while it reports not-ready, so that endpoints,
 * kube-proxy and ingresses stop sending to it first (the server's `--drain-delay`, read from
 * `SLIPWAY_DRAIN_DELAY_SECONDS`). The image has no shell, so this replaces a `sleep` preStop hook.
 */
export const DRAIN_DELAY_SECONDS = 10;
/** The delay, plus the longest inference still allowed to finish, plus a margin before SIGKILL. */
export const TERMINATION_GRACE_SECONDS = DRAIN_DELAY_SECONDS + 60;

export const HEALTH = { ready: '/v2/health/ready', live: '/v2/health/live' } as const;

/**
 * The health port of a plain Deployment (`--health-port`, SLIPWAY_HEALTH_PORT): probes answered by
 * a thread of their own stay fast when the serving port is overloaded, so the liveness probe does
 * not restart a pod for being busy. KServe and Knative allow one serving port per container and
 * probe that one.
 */
export const HEALTH_PORT = 8003;

/** Labels every object of a project carries; the selector uses the first two. */
export function projectLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'slipway' };
}

/** CPU and memory requests, a memory limit (memory is not compressible) and the GPU limit. */
export function containerResources(project: DeployProject): { requests?: Record<string, string>; limits?: Record<string, string | number> } | undefined {
  const { resources } = project.runtime;
  const requests: Record<string, string> = {};
  const limits: Record<string, string | number> = {};
  if (resources.cpu !== undefined) requests.cpu = String(resources.cpu);
  if (resources.memory !== undefined) {
    requests.memory = resources.memory;
    limits.memory = resources.memory;
  }
  if (resources.gpu > 0) limits['nvidia.com/gpu'] = resources.gpu;
  if (Object.keys(requests).length + Object.keys(limits).length === 0) return undefined;
  return { ...(Object.keys(requests).length > 0 && { requests }), ...(Object.keys(limits).length > 0 && { limits }) };
}

/** Cores the server plans its instances for: the CPU request rounded up (Node sees the node's cores, not the pod's). */
export function plannedCores(project: DeployProject): number | undefined {
  const { cpu } = project.runtime.resources;
  return cpu === undefined ? undefined : Math.max(1, Math.ceil(cpuCores(cpu)));
}

/** A container environment variable: a value, or a Secret's entry. */
export type EnvVar = { name: string; value: string } | { name: string; valueFrom: { secretKeyRef: { name: string; key: string; optional: boolean } } };

/** The Secret the API keys come from, `<project>-keys` (see `keysFromSecret`). */
export function keysSecretName(project: DeployProject): string {
  return `${project.name}-keys`;
}

/**
 * The server's API keys from a Secret's entries `api-keys`, `ui-keys` and `admin-token` (each
 * comma-separated keys). Optional: without the Secret or an entry, that variable is unset, so the
 * manifests apply as they are and keys are added by creating the Secret:
 * `kubectl create secret generic <project>-keys --from-literal=ui-keys=…`.
 */
export function keysFromSecret(secret: string): EnvVar[] {
  const entries: Array<[string, string]> = [
    ['SLIPWAY_API_KEYS', 'api-keys'],
    ['SLIPWAY_UI_KEYS', 'ui-keys'],
    ['SLIPWAY_ADMIN_TOKEN', 'admin-token'],
  ];
  return entries.map(([name, key]) => ({ name, valueFrom: { secretKeyRef: { name: secret, key, optional: true } } }));
}

export function containerEnvironment(project: DeployProject): EnvVar[] {
  const cores = plannedCores(project);
  return [
    ...(cores !== undefined ? [{ name: 'SLIPWAY_CORES', value: String(cores) }] : []),
    { name: 'SLIPWAY_DRAIN_DELAY_SECONDS', value: String(DRAIN_DELAY_SECONDS) },
    ...keysFromSecret(keysSecretName(project)),
  ];
}

const [uid, gid] = IMAGE_USER.split(':').map(Number) as [number, number];

/** Non-root with the image's numeric user, the runtime's default seccomp profile. */
export function podSecurityContext(): Record<string, unknown> {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, seccompProfile: { type: 'RuntimeDefault' } };
}

/** Nothing to escalate to, no capabilities, a root file system nobody writes (an emptyDir holds /tmp). */
export function containerSecurityContext(): Record<string, unknown> {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };
}

/**
 * Probes on the OIP health routes: the startup probe gives model loading up to five minutes, readiness
 * takes the pod out of the Service while it cannot serve (loading, draining), liveness restarts a
 * process that stopped answering. `port` undefined lets Knative pick the serving port.
 */
export function healthProbes(port: string | number | undefined): Record<string, object> {
  const probe = (path: string, periodSeconds: number, failureThreshold: number): object => ({
    httpGet: { path, ...(port !== undefined && { port }) },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 2,
  });
  return {
    startupProbe: probe(HEALTH.ready, 5, 60),
    readinessProbe: probe(HEALTH.ready, 5, 3),
    livenessProbe: probe(HEALTH.live, 10, 3),
  };
}

export const TMP_VOLUME = { name: 'tmp', emptyDir: {} };
export const TMP_MOUNT = { name: 'tmp', mountPath: '/tmp' };
