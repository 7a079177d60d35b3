import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from '../observability/logger.js';

/** Messages between the primary and its serving processes (over the cluster's IPC channel). */
type ClusterMessage =
  | { type: 'slipway:ready'; banner: string }
  | { type: 'slipway:metrics-request'; id: number }
  | { type: 'slipway:metrics'; id: number; text?: string; error?: string }
  | { type: 'slipway:drain' };

const isMessage = (value: unknown): value is ClusterMessage =>
  typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string' && (value as { type: string }).type.startsWith('slipway:');

export interface ProcessClusterOptions {
  processes: number;
  /** Cores to share out (default: the machine's); each process plans its instances for its share. */
  cores?: number;
  logger: Logger;
  /** A process that has not become ready in this long is killed and the start (or restart) fails. */
  startTimeoutMs?: number;
  /** A draining process still running after this long is killed. */
  drainTimeoutMs?: number;
  /** At SIGTERM/SIGINT, how long the processes keep serving (the pod reported not-ready) before they drain. */
  drainDelayMs?: number;
  /** The health port (`--health-port`), answered here for the whole pod: ready while any process serves. */
  health?: { host: string; port: number };
}

/** Cores each of `processes` serving processes plans its model instances for. */
export function coresPerProcess(processes: number, cores: number = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / processes));
}

/**
 * The primary of `slipway serve --processes N`: it serves nothing itself. It forks N serving
 * processes that share the HTTP, gRPC and metrics ports (node:cluster hands each new connection to
 * the next process), gives each `SLIPWAY_CORES` = its share of the cores, prints the first one's
 * banner once all are ready, and then:
 *
 * - replaces a process that dies (after a pause that doubles while they keep dying young, up to 30 s);
 * - on SIGHUP, restarts them one at a time: a new one starts and becomes ready before an old one
 *   drains (it stops accepting, finishes what it has, and exits), so no request fails;
 * - on SIGTERM/SIGINT, drains them all and exits 0;
 * - answers any process's `/metrics` with the whole server's metrics, aggregated with prom-client's
 *   AggregatorRegistry (counters and histograms summed; gauges summed unless they say otherwise).
 *
 * Resolves when the server has stopped; rejects when the processes cannot start (a bad option, a
 * port in use), with the exit code of the first one that failed.
 */
export async function runProcessCluster(options: ProcessClusterOptions): Promise<number> {
  const { logger } = options;
  const startTimeoutMs = options.startTimeoutMs ?? 300_000;
  const drainTimeoutMs = options.drainTimeoutMs ?? 120_000;
  const cores = coresPerProcess(options.processes, options.cores);
  const { AggregatorRegistry } = await import('prom-client');
  const aggregator = new AggregatorRegistry();
  const serving = new Set<Worker>();
  const retiring = new Set<Worker>();
  const readiness = new Map<Worker, { resolve: (banner: string) => void; reject: (error: Error) => void }>();
  let stopping = false;
  let everReady = false;
  let restartDelayMs = 500;

  const fork = (): { worker: Worker; ready: Promise<string> } => {
    const worker = cluster.fork({ SLIPWAY_CORES: String(cores) });
    const startedAt = performance.now();
    const ready = new Promise<string>((resolve, reject) => readiness.set(worker, { resolve, reject }));
    ready.catch(() => undefined);
    const timer = setTimeout(() => {
      readiness.get(worker)?.reject(new Error(`process ${worker.process.pid} was not ready after ${startTimeoutMs / 1000} s`));
      worker.kill('SIGKILL');
    }, startTimeoutMs);
    void ready.finally(() => clearTimeout(timer)).catch(() => undefined);
    worker.on('message', (message: unknown) => {
      if (!isMessage(message)) return;
      if (message.type === 'slipway:ready') {
        serving.add(worker);
        readiness.get(worker)?.resolve(message.banner);
        readiness.delete(worker);
      } else if (message.type === 'slipway:metrics-request') {
        aggregator.clusterMetrics().then(
          (text) => worker.isConnected() && worker.send({ type: 'slipway:metrics', id: message.id, text } satisfies ClusterMessage),
          (error: Error) => worker.isConnected() && worker.send({ type: 'slipway:metrics', id: message.id, error: error.message } satisfies ClusterMessage),
        );
      }
    });
    worker.once('exit', (code, signal) => {
      serving.delete(worker);
      const wasRetiring = retiring.delete(worker);
      readiness.get(worker)?.reject(Object.assign(new Error(`process ${worker.process.pid} exited (${signal ?? code}) before it was ready`), { exitCode: code }));
      readiness.delete(worker);
      if (stopping || wasRetiring || !everReady) return;
      // Young deaths in a row back off, so a process that cannot start does not spin the machine.
      restartDelayMs = performance.now() - startedAt < 10_000 ? Math.min(restartDelayMs * 2, 30_000) : 500;
      logger.error(
        { event: 'process_died', workerPid: worker.process.pid, code, signal, restartInMs: restartDelayMs },
        `serving process ${worker.process.pid} died (${signal ?? `exit code ${code}`}); starting another in ${restartDelayMs} ms`,
      );
      setTimeout(() => {
        if (stopping) return;
        const replacement = fork();
        replacement.ready.then(
          () => logger.info({ event: 'process_replaced', workerPid: replacement.worker.process.pid }, `serving process ${replacement.worker.process.pid} replaced ${worker.process.pid}`),
          (error: Error) => logger.error({ event: 'process_replace_failed', err: error }, error.message),
        );
      }, restartDelayMs).unref();
    });
    return { worker, ready };
  };

  const drain = async (worker: Worker): Promise<void> => {
    retiring.add(worker);
    serving.delete(worker);
    const exited = new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve())));
    if (worker.isConnected()) worker.send({ type: 'slipway:drain' } satisfies ClusterMessage);
    const timer = setTimeout(() => {
      logger.warn({ event: 'process_drain_timeout', workerPid: worker.process.pid }, `process ${worker.process.pid} still draining after ${drainTimeoutMs / 1000} s: killing it`);
      worker.kill('SIGKILL');
    }, drainTimeoutMs);
    await exited;
    clearTimeout(timer);
  };

  let restarting: Promise<void> | undefined;
  const rollingRestart = async (): Promise<void> => {
    const old = [...serving];
    logger.info({ event: 'rolling_restart', processes: old.length }, `SIGHUP: restarting ${old.length} processes one at a time`);
    for (const worker of old) {
      if (stopping) return;
      const fresh = fork();
      try {
        await fresh.ready;
      } catch (error) {
        // The old processes keep serving: a bad deploy must not take the server down.
        logger.error({ event: 'rolling_restart_failed', err: error }, `rolling restart stopped: ${(error as Error).message}; the other processes keep serving`);
        return;
      }
      await drain(worker);
    }
    logger.info({ event: 'rolling_restart_done' }, 'rolling restart done');
  };

  const started = performance.now();
  const first = Array.from({ length: options.processes }, () => fork());
  let banners: string[];
  try {
    banners = await Promise.all(first.map((f) => f.ready));
  } catch (error) {
    stopping = true;
    for (const { worker } of first) if (!worker.isDead()) worker.kill('SIGKILL');
    throw error;
  }
  everReady = true;
  const health =
    options.health === undefined
      ? undefined
      : await (await import('./health-listener.js')).HealthListener.start({
          ...options.health,
          notReadyReason: () => (stopping ? 'shutting down' : serving.size === 0 ? 'no serving process is ready' : undefined),
        });
  const pids = first.map((f) => f.worker.process.pid).join(', ');
  const healthLine =
    health === undefined ? '' : `Health probes (a thread of their own) on http://${options.health!.host.includes(':') ? `[${options.health!.host}]` : options.health!.host}:${health.port}/v2/health/live and /v2/health/ready\n`;
  process.stdout.write(
    `${banners[0]}${healthLine}${options.processes} processes (pids ${pids}), ${cores} core${cores === 1 ? '' : 's'} each, ready in ${Math.round(performance.now() - started)} ms; SIGHUP restarts them one at a time\n`,
  );

  process.on('SIGHUP', () => {
    restarting ??= rollingRestart().finally(() => (restarting = undefined));
  });
  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: stopping the processes without waiting');
        for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGKILL');
        resolve(1);
        return;
      }
      stopping = true;
      health?.update();
      const delayMs = options.drainDelayMs ?? 0;
      logger.info({ event: 'shutdown', signal, drainDelayMs: delayMs }, `${signal}: not ready; draining ${serving.size} processes${delayMs > 0 ? ` in ${delayMs / 1000} s` : ''}`);
      void new Promise((wait) => setTimeout(wait, delayMs))
        .then(() => Promise.all(Object.values(cluster.workers ?? {}).map((w) => (w === undefined ? undefined : drain(w)))))
        .then(() => health?.close())
        .then(() => resolve(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/** The serving process's side of the cluster; undefined when this process is not a cluster worker. */
export interface ClusterMember {
  /** Answers the primary's requests for metrics from this registry (until then: none). */
  shareMetrics(registry: import('prom-client').Registry): void;
  /** Tells the primary this process listens and its models are loaded. */
  ready(banner: string): void;
  /** The whole server's metrics, from the primary. */
  clusterMetrics(): Promise<string>;
  /**
   * Called when the primary wants this process to drain and exit (a rolling restart, a stop). A
   * request that came while the process was still starting is handed over as soon as this is set.
   */
  onDrain(handler: () => void): void;
}

/**
 * Joins the cluster when this process is one of `slipway serve --processes N`'s. Call it first
 * thing: the primary may ask a process that is still loading its models to drain.
 */
export async function joinCluster(): Promise<ClusterMember | undefined> {
  if (!cluster.isWorker) return undefined;
  const { AggregatorRegistry, Registry } = await import('prom-client');
  // Constructing one installs prom-client's listener that answers the primary's metrics requests;
  // until the models are loaded it answers with an empty registry.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([new Registry()]);
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let next = 0;
  let drainHandler: (() => void) | undefined;
  let drainRequested = false;
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === 'slipway:metrics') {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (message.text !== undefined) waiting?.resolve(message.text);
      else waiting?.reject(new Error(`the primary could not collect metrics: ${message.error ?? 'no answer'}`));
    } else if (message.type === 'slipway:drain') {
      drainRequested = true;
      drainHandler?.();
    }
  });
  return {
    shareMetrics: (registry) => AggregatorRegistry.setRegistries([registry]),
    ready: (banner) => process.send?.({ type: 'slipway:ready', banner } satisfies ClusterMessage),
    clusterMetrics: () =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        process.send?.({ type: 'slipway:metrics-request', id } satisfies ClusterMessage);
        setTimeout(() => {
          if (pending.delete(id)) reject(new Error('the primary did not send the metrics within 10 s'));
        }, 10_000).unref();
      }),
    onDrain: (handler) => {
      drainHandler = handler;
      if (drainRequested) handler();
    },
  };
}
