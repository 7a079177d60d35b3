import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import pg from 'pg';

/** Where tests find PostgreSQL (override with SLIPWAY_TEST_POSTGRES_URL). */
export const POSTGRES_URL = process.env.SLIPWAY_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Options for `test()`/`describe()` that skip, loudly, when an external part is missing, and fail
 * instead under SLIPWAY_REQUIRE_ALL=1 (CI), so a missing install step can never pass silently.
 *
 * @example
 * describe('feedback store on PostgreSQL', await requirePostgres(), () => { ... });
 */
export function requirement(available: boolean, what: string): { skip?: string } {
  if (available) return {};
  const reason = `${what} is not available`;
  if (process.env.SLIPWAY_REQUIRE_ALL === '1') {
    throw new Error(`${reason}, and SLIPWAY_REQUIRE_ALL=1 requires it (install it in .ci/run)`);
  }
  process.stderr.write(`\n*** SKIPPING: ${reason}. Set SLIPWAY_REQUIRE_ALL=1 to make this a failure. ***\n\n`);
  return { skip: reason };
}

export async function requirePostgres(): Promise<{ skip?: string }> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  let ok = false;
  try {
    await client.connect();
    await client.query('select 1');
    ok = true;
  } catch {
    ok = false;
  } finally {
    await client.end().catch(() => undefined);
  }
  return requirement(ok, `PostgreSQL at ${POSTGRES_URL}`);
}

/** True when `command --version` (or the given args) runs. */
export function hasCommand(command: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export function requireCommand(command: string, args?: string[]): { skip?: string } {
  return requirement(hasCommand(command, args), `the '${command}' command`);
}

/**
 * A schema of its own for each store a test opens on the shared PostgreSQL (`?schema=` on the URL),
 * all dropped by `drop()`, so parallel test runs never see each other's tables.
 *
 * @example
 * const schemas = testSchemas('slipway_feedback');
 * before(() => schemas.client.connect());
 * after(() => schemas.drop());
 * const { url } = schemas.newUrl();
 */
export function testSchemas(prefix: string): { client: pg.Client; newUrl: () => { schema: string; url: string }; drop: () => Promise<void> } {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  const schemas: string[] = [];
  return {
    client,
    newUrl: () => {
      const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
      schemas.push(schema);
      const url = new URL(POSTGRES_URL);
      url.searchParams.set('schema', schema);
      return { schema, url: url.toString() };
    },
    drop: async () => {
      for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

/** Where tests find the shared Redis (override with SLIPWAY_TEST_REDIS_URL); use a unique key prefix and clean up. */
export const REDIS_URL = process.env.SLIPWAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export async function requireRedis(): Promise<{ skip?: string }> {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  let ok = false;
  try {
    await client.connect();
    ok = (await client.ping()) === 'PONG';
  } catch {
    ok = false;
  } finally {
    client.disconnect();
  }
  return requirement(ok, `Redis at ${REDIS_URL}`);
}

/** Deletes every key under a prefix (SCAN, not KEYS: the Redis is shared). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    for await (const keys of client.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await client.del(...keys);
    }
  } finally {
    client.disconnect();
  }
}
