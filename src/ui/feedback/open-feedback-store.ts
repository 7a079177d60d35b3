import { sqliteBesideModels } from '../../config/database-url.js';
import { ServingError } from '../../errors/serving-error.js';
import type { FeedbackStore } from './feedback-store.js';

/**
 * Opens a feedback store from its URL: `sqlite:PATH` (or `sqlite://PATH`), or
 * `postgres://user:password@host:port/database[?schema=name]` (`postgresql://` too).
 *
 * @example
 * const store = await openFeedbackStore('postgres://app@db:5432/ml?schema=feedback');
 * console.log(await store.counts());
 * await store.close();
 */
export async function openFeedbackStore(url: string): Promise<FeedbackStore> {
  // The drivers load with the store that needs them (a server without the UI loads neither).
  if (/^postgres(ql)?:\/\//i.test(url)) return (await import('./postgres-feedback-store.js')).PostgresFeedbackStore.open(url);
  const sqlite = /^sqlite:(?:\/\/)?(.+)$/i.exec(url);
  if (sqlite !== null) return (await import('./sqlite-feedback-store.js')).SqliteFeedbackStore.open(sqlite[1]!);
  throw new ServingError('CONFIG_INVALID', `feedback database '${url}' is neither sqlite:PATH nor postgres://…`);
}

/**
 * The default store: `feedback.db` in the folder that holds the first served path (beside a
 * repository, not inside it, so it never looks like a model).
 *
 * @example
 * defaultFeedbackDb(['examples/models']); // 'sqlite:/…/examples/feedback.db'
 */
export function defaultFeedbackDb(models: readonly string[]): string {
  return sqliteBesideModels(models, 'feedback.db');
}
