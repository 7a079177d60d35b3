import { Worker } from 'node:worker_threads';

/** What the health thread starts with. */
export interface HealthWorkerData {
  host: string;
  port: number;
  /** Int32 at 0: the main thread's last heartbeat, in whole seconds since the epoch. */
  heartbeat: SharedArrayBuffer;
  /** Liveness fails when the serving thread has not run for longer than this. */
  liveAfterSeconds: number;
  /** Readiness fails sooner: a pod whose serving thread is stuck should get no new traffic. */
  readyAfterSeconds: number;
}

export type HealthWorkerMessage =
  | { type: 'readiness'; ready: boolean; reason?: string }
  | { type: 'close' }
  | { type: 'listening'; port: number }
  | { type: 'error'; message: string };

export interface HealthListenerOptions {
  host: string;
  port: number;
  /** Why the server is not ready (undefined: ready); asked on every heartbeat. */
  notReadyReason: () => string | undefined;
  /** How often the serving thread beats and republishes readiness (default 250 ms). */
  intervalMs?: number;
  liveAfterSeconds?: number;
  readyAfterSeconds?: number;
}

const WORKER_URL = new URL('./health-worker.js', import.meta.url);

/**
 * `/v2/health/live` and `/v2/health/ready` on a port and a thread of their own (`--health-port`).
 * The serving port's probes share its accept queue and event loop with every client, so under
 * overload they wait behind the load they are meant to survive (the audit measured p99 of 2–14 s);
 * here the probe is answered by a thread that does nothing else, from what the serving thread last
 * published: its heartbeat (liveness fails only when it has not run for `liveAfterSeconds`, default
 * 30) and its readiness.
 */
export class HealthListener {
  private constructor(
    private readonly worker: Worker,
    private readonly timer: NodeJS.Timeout,
    private readonly publish: () => void,
    /** The port it listens on (the one picked when 0 was asked for). */
    readonly port: number,
  ) {}

  static async start(options: HealthListenerOptions): Promise<HealthListener> {
    const heartbeat = new SharedArrayBuffer(4);
    const beats = new Int32Array(heartbeat);
    const beat = (): void => void Atomics.store(beats, 0, Math.floor(Date.now() / 1000));
    beat();
    const data: HealthWorkerData = {
      host: options.host,
      port: options.port,
      heartbeat,
      liveAfterSeconds: options.liveAfterSeconds ?? 30,
      readyAfterSeconds: options.readyAfterSeconds ?? 10,
    };
    const worker = new Worker(WORKER_URL, { workerData: data });
    let last: string | undefined | null = null;
    const publish = (): void => {
      const reason = options.notReadyReason();
      if (reason === last) return;
      last = reason;
      worker.postMessage({ type: 'readiness', ready: reason === undefined, ...(reason !== undefined && { reason }) } satisfies HealthWorkerMessage);
    };
    const port = await new Promise<number>((resolve, reject) => {
      worker.on('message', (message: HealthWorkerMessage) => {
        if (message.type === 'listening') resolve(message.port);
        else if (message.type === 'error') reject(new Error(`health port ${options.port}: ${message.message}`));
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the health listener's thread exited (${code}) before it listened`)));
    });
    publish();
    const timer = setInterval(() => {
      beat();
      publish();
    }, options.intervalMs ?? 250);
    // The server's own listeners keep the process up; this one must not hold an exit.
    timer.unref();
    worker.unref();
    return new HealthListener(worker, timer, publish, port);
  }

  /** Publishes readiness now (at SIGTERM: the next probe must see not-ready, not the one after the next beat). */
  update(): void {
    this.publish();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    // Held until it has gone, or an otherwise idle process would exit before it does.
    this.worker.ref();
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies HealthWorkerMessage);
    await exited;
  }
}
