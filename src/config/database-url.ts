import { dirname, join, resolve } from 'node:path';

/** Database URLs as the stores take them: `sqlite:PATH`, or `postgres://…[?schema=name]`. */

/**
 * A connection URL (PostgreSQL, Redis, …) with its password hidden, for messages, logs and banners.
 *
 * @example
 * redactUrl('redis://:secret@cache:6379/0'); // 'redis://:***@cache:6379/0'
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/**
 * A store URL with its password hidden: PostgreSQL URLs are redacted, `sqlite:PATH` is left exactly
 * as given (URL parsing would percent-encode its path).
 *
 * @example
 * redactPassword('postgres://app:secret@db/ml'); // 'postgres://app:***@db/ml'
 */
export function redactPassword(url: string): string {
  return /^postgres(ql)?:\/\//i.test(url) ? redactUrl(url) : url;
}

/** A PostgreSQL identifier, quoted (any name is safe this way). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Splits Slipway's `?schema=name` parameter off a PostgreSQL URL: pg would pass it on to the server
 * as an unknown startup option. Throws a TypeError for a URL that does not parse.
 *
 * @example
 * postgresTarget('postgres://app@db/ml?schema=ui'); // { connectionString: 'postgres://app@db/ml', schema: 'ui' }
 */
export function postgresTarget(url: string): { connectionString: string; schema: string | undefined } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') || undefined;
  parsed.searchParams.delete('schema');
  return { connectionString: parsed.toString(), schema };
}

/**
 * A default SQLite store: `fileName` in the folder that holds the first served path, beside a
 * repository rather than inside it, so it never looks like a model.
 *
 * @example
 * sqliteBesideModels(['examples/models'], 'feedback.db'); // 'sqlite:/…/examples/feedback.db'
 */
export function sqliteBesideModels(models: readonly string[], fileName: string): string {
  return `sqlite:${join(dirname(resolve(models[0] ?? '.')), fileName)}`;
}
