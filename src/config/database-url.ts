import { dirname, join, resolve } from 'node:path';

/** Database URLs as the stores take them: `sqlite:PATH`, or `postgres://…[?schema=name]`. */

/**
 * Removes the password from a URL for messages and logs.
 *
 * @example
 * redactPassword('postgres://app:secret@db/ml'); // 'postgres://app:***@db/ml'
 */
export function redactPassword(url: string): string {
  if (!/^postgres(ql)?:\/\//i.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
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
