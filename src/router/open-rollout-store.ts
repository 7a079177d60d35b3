import { sqliteBesideModels } from '../config/database-url.js';
import { ServingError } from '../errors/serving-error.js';
import type { RolloutStore } from './rollout-store.js';
import type { SqliteRolloutStoreOptions } from './sqlite-rollout-store.js';

/**
 * Opens a rollout store from its URL: `sqlite:PATH` (or `sqlite://PATH`), or
 * `postgres://user:password@host:port/database[?schema=name]` (`postgresql://` too).
 *
 * @example
 * const store = await openRolloutStore('postgres://app@db:5432/ml?schema=slipway');
 */
export async function openRolloutStore(url: string, options: SqliteRolloutStoreOptions = {}): Promise<RolloutStore> {
  // Each driver is loaded only for its own URL: loading pg took ~130 ms of every server's cold start.
  if (/^postgres(ql)?:\/\//i.test(url)) return (await import('./postgres-rollout-store.js')).PostgresRolloutStore.open(url);
  const sqlite = /^sqlite:(?:\/\/)?(.+)$/i.exec(url);
  if (sqlite !== null) return (await import('./sqlite-rollout-store.js')).SqliteRolloutStore.open(sqlite[1]!, options);
  throw new ServingError('CONFIG_INVALID', `rollout database '${url}' is neither sqlite:PATH nor postgres://…`);
}

/**
 * The default store: `rollouts.db` in the folder that holds the first served path (beside a
 * repository, as the feedback database is).
 *
 * @example
 * defaultRolloutDb(['examples/models']); // 'sqlite:/…/examples/rollouts.db'
 */
export function defaultRolloutDb(models: readonly string[]): string {
  return sqliteBesideModels(models, 'rollouts.db');
}
