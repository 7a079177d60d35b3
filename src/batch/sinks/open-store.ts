import { ServingError } from '../../errors/serving-error.js';
import type { BatchStore } from './batch-store.js';
import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';

export const DEFAULT_OUTPUT = 'sqlite:./predictions.db';

/**
 * Opens a batch database from its URL: `sqlite:PATH` (or `sqlite://PATH`), or
 * `postgres://user:password@host:port/database[?schema=name]` (`postgresql://` too).
 *
 * @example
 * const store = await openStore('sqlite:./predictions.db');
 * console.log(await store.tableRuns());
 * await store.close();
 */
export async function openStore(url: string, options: { readonly?: boolean } = {}): Promise<BatchStore> {
  if (/^postgres(ql)?:\/\//i.test(url)) return PostgresStore.open(url);
  const sqlite = /^sqlite:(\/\/)?(.+)$/i.exec(url);
  if (sqlite !== null) return SqliteStore.open(sqlite[2]!, options);
  throw new ServingError('CONFIG_INVALID', `database URL '${url}' is neither sqlite:PATH nor postgres://…`);
}
