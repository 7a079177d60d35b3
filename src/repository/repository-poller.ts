import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../observability/logger.js';
import { discoverModels, isVersionDirName, type ModelSource } from './discover.js';
import { fingerprint } from './model-repository.js';

export interface RepositoryPollerOptions {
  /** The repository paths `slipway serve` was given. */
  paths: readonly string[];
  intervalMs: number;
  /** Loads a model that appeared, or reloads one whose files changed. */
  load: (name: string) => Promise<void>;
  /** Unloads a model whose folder is gone. */
  unload: (name: string) => Promise<void>;
  logger?: Logger;
}

/**
 * Triton's POLL mode: every `intervalMs` the repository folders are scanned, and a model folder
 * that appeared is loaded, one whose files changed (a new or removed version folder, a replaced
 * model file, config.yaml, the handler) is reloaded, and one that disappeared is unloaded. A reload
 * loads new versions beside the serving ones, so a new version takes traffic only once READY. A
 * failed load is logged and not retried until the folder changes again (a half-copied file is
 * picked up once the copy completes).
 *
 * @example
 * const poller = new RepositoryPoller({ paths: ['models'], intervalMs: 5000, load, unload, logger });
 * await poller.start();
 * // … later
 * poller.stop();
 */
export class RepositoryPoller {
  private seen = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly options: RepositoryPollerOptions) {}

  /** Takes the first snapshot (what is served now counts as seen) and starts polling. */
  async start(): Promise<void> {
    this.seen = await this.scan();
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One scan now; resolves when its loads and unloads are done. */
  async poll(): Promise<void> {
    const current = await this.scan().catch((error: unknown) => {
      (this.options.logger ?? silentLogger()).warn({ event: 'poll_failed', err: error }, `repository poll failed: ${(error as Error).message}`);
      return undefined;
    });
    if (current === undefined) return;
    const logger = this.options.logger ?? silentLogger();
    for (const [name, print] of current) {
      const before = this.seen.get(name);
      if (before === print) continue;
      logger.info({ event: 'poll_change', model: name, change: before === undefined ? 'added' : 'changed' }, `repository poll: model '${name}' ${before === undefined ? 'appeared' : 'changed'}; loading`);
      await this.options.load(name).catch((error: unknown) => logger.warn({ event: 'poll_load_failed', model: name, err: error }, `repository poll: ${(error as Error).message}`));
    }
    for (const name of this.seen.keys()) {
      if (current.has(name)) continue;
      logger.info({ event: 'poll_change', model: name, change: 'removed' }, `repository poll: model '${name}' is gone; unloading`);
      await this.options.unload(name).catch((error: unknown) => logger.warn({ event: 'poll_unload_failed', model: name, err: error }, `repository poll: ${(error as Error).message}`));
    }
    this.seen = current;
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.poll().finally(() => {
        this.running = undefined;
        this.arm();
      });
    }, this.options.intervalMs);
    // Polling alone must not keep a process alive.
    this.timer.unref();
  }

  /** Waits for a poll in progress (so a shutdown does not unload under it). */
  async idle(): Promise<void> {
    await this.running;
  }

  /** Model name → a fingerprint of every file that matters to it. */
  private async scan(): Promise<Map<string, string>> {
    const sources = await discoverModels(this.options.paths);
    const prints = await Promise.all(sources.map((s) => folderFingerprint(s)));
    return new Map(sources.map((s, i) => [s.name, prints[i]!]));
  }
}

/** The identity (size, mtime, inode) of a model's files: its own files and each version folder's. */
async function folderFingerprint(source: ModelSource): Promise<string> {
  if (source.kind === 'file') return fingerprint(source.file);
  const parts: string[] = [];
  const entries = await readdir(source.dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(source.dir, entry.name);
    if ((entry.isDirectory() || entry.isSymbolicLink()) && isVersionDirName(entry.name)) {
      const files = await readdir(path).catch(() => [] as string[]);
      for (const file of files.sort()) parts.push(`${entry.name}/${file}=${await fingerprint(join(path, file))}`);
    } else if (entry.isFile() || entry.isSymbolicLink()) {
      parts.push(`${entry.name}=${await fingerprint(path)}`);
    }
  }
  return parts.join('|');
}

