import { parseDocument, type ModelRolloutDocument, type RolloutStore, type StoredModelRollout } from './rollout-store.js';

/**
 * Rollout state in this process only: what `Slipway.open` uses when no store is given (a library
 * embedding Slipway), and what unit tests use. Documents are copied in and out, as a database would.
 *
 * @example
 * const slipway = await Slipway.open({ models: './models', rollouts: { store: new MemoryRolloutStore() } });
 */
export class MemoryRolloutStore implements RolloutStore {
  readonly location = 'memory';
  private readonly rows = new Map<string, { revision: number; text: string; owner?: string; untilMs?: number }>();

  async list(): Promise<StoredModelRollout[]> {
    return [...this.rows.keys()].map((model) => this.read(model)!);
  }

  async get(model: string): Promise<StoredModelRollout | undefined> {
    return this.read(model);
  }

  async put(model: string, document: ModelRolloutDocument, expectedRevision: number): Promise<number | undefined> {
    const row = this.rows.get(model);
    if ((row?.revision ?? 0) !== expectedRevision) return undefined;
    const revision = expectedRevision + 1;
    this.rows.set(model, { ...row, revision, text: JSON.stringify(document) });
    return revision;
  }

  async acquireLease(model: string, owner: string, nowMs: number, ttlMs: number): Promise<boolean> {
    const row = this.rows.get(model);
    if (row === undefined) return false;
    if (row.owner !== undefined && row.owner !== owner && (row.untilMs ?? 0) >= nowMs) return false;
    row.owner = owner;
    row.untilMs = nowMs + ttlMs;
    return true;
  }

  async releaseLease(model: string, owner: string): Promise<void> {
    const row = this.rows.get(model);
    if (row?.owner !== owner) return;
    delete row.owner;
    delete row.untilMs;
  }

  async close(): Promise<void> {}

  private read(model: string): StoredModelRollout | undefined {
    const row = this.rows.get(model);
    return row === undefined ? undefined : { model, revision: row.revision, document: parseDocument(row.text, model) };
  }
}
