import { createHash, timingSafeEqual } from 'node:crypto';
import { ServingError } from '../../errors/serving-error.js';

/**
 * Route groups, from least to most trusted: `inference` (OIP REST/gRPC, dialects, handler predict),
 * `ui` (the UI's feedback reads: flags, exports, uploaded files) and `admin` (repository load/unload,
 * traffic, rollouts). A key of a group also opens every group below it, so the UI's key works for
 * the inference calls its pages make, and the admin token for everything.
 */
export type AccessGroup = 'inference' | 'ui' | 'admin';

export const ACCESS_GROUPS: readonly AccessGroup[] = ['inference', 'ui', 'admin'];

const RANK: Record<AccessGroup, number> = { inference: 0, ui: 1, admin: 2 };

export interface AccessKeysOptions {
  /** The keys of each group. */
  keys?: Partial<Record<AccessGroup, readonly string[]>>;
  /**
   * Whether the inference and UI groups need a key. Default: when the group has keys of its own.
   * Admin always needs one (and is off without any).
   */
  require?: Partial<Record<'inference' | 'ui', boolean>>;
}

/** Who a presented key belongs to. `id` names it in logs and rate limits without revealing it. */
export interface KeyIdentity {
  group: AccessGroup;
  id: string;
}

interface Entry {
  digest: Buffer;
  identity: KeyIdentity;
}

/**
 * The server's API keys, shared by every protocol so that they refuse alike. Keys are kept and
 * compared as SHA-256 digests with `timingSafeEqual`, against every key each time, so neither the
 * length nor the position of a key shows in the time an answer takes.
 *
 * @example
 * const keys = new AccessKeys({ keys: { inference: ['k-123456789'], admin: [token] } });
 * keys.check('inference', presentedKey(header)); // throws UNAUTHENTICATED or PERMISSION_DENIED
 */
export class AccessKeys {
  private readonly entries: Entry[] = [];
  private readonly requires: Record<'inference' | 'ui', boolean>;

  constructor(options: AccessKeysOptions = {}) {
    for (const group of ACCESS_GROUPS) {
      for (const key of options.keys?.[group] ?? []) {
        if (key === '') continue;
        const digest = sha256(key);
        // The id is a short digest prefix: enough to tell keys apart in a log, useless to guess one.
        this.entries.push({ digest, identity: { group, id: `${group}:${digest.toString('hex').slice(0, 12)}` } });
      }
    }
    const has = (group: AccessGroup) => this.entries.some((e) => e.identity.group === group);
    this.requires = {
      inference: options.require?.inference ?? has('inference'),
      ui: options.require?.ui ?? (has('ui') || has('inference')),
    };
  }

  /** Whether calls to `group` must present a key. */
  required(group: AccessGroup): boolean {
    return group === 'admin' ? true : this.requires[group];
  }

  /** Whether any key opens `group` (admin is disabled without one). */
  hasKeysFor(group: AccessGroup): boolean {
    return this.entries.some((e) => RANK[e.identity.group] >= RANK[group]);
  }

  /** The key's identity, or undefined when it is no key of this server. */
  identify(key: string | undefined): KeyIdentity | undefined {
    if (key === undefined || key === '') return undefined;
    const digest = sha256(key);
    let found: KeyIdentity | undefined;
    // No early exit: every key is compared whichever matches.
    for (const entry of this.entries) if (timingSafeEqual(digest, entry.digest) && found === undefined) found = entry.identity;
    return found;
  }

  /**
   * Throws unless `key` may call routes of `group`: UNAUTHENTICATED (401) for a missing or unknown
   * key, PERMISSION_DENIED (403) for a key of a lower group or a disabled admin group.
   */
  check(group: AccessGroup, key: string | undefined): KeyIdentity | undefined {
    if (group === 'admin' && !this.hasKeysFor('admin')) {
      throw new ServingError(
        'PERMISSION_DENIED',
        'changes to what the server serves (repository load and unload, traffic, rollouts) are disabled: start the server with --admin-token (or SLIPWAY_ADMIN_TOKEN) to allow them',
      );
    }
    const identity = this.identify(key);
    if (!this.required(group)) return identity;
    if (key === undefined || key === '') throw new ServingError('UNAUTHENTICATED', missingMessage(group));
    if (identity === undefined) throw new ServingError('UNAUTHENTICATED', group === 'admin' ? 'the admin token is wrong' : `the API key is wrong (it is not one of this server's ${group} keys)`);
    if (RANK[identity.group] < RANK[group]) {
      throw new ServingError('PERMISSION_DENIED', `this key opens the ${identity.group} routes only; ${describeGroup(group)} need a ${group === 'admin' ? 'admin token' : `${group} (or admin) key`}`);
    }
    return identity;
  }
}

function describeGroup(group: AccessGroup): string {
  switch (group) {
    case 'inference':
      return 'inference routes';
    case 'ui':
      return 'feedback reads (flags, exports, uploaded files)';
    case 'admin':
      return 'repository load/unload, traffic and rollouts';
  }
}

function missingMessage(group: AccessGroup): string {
  if (group === 'admin') return "this route needs the admin token: send 'Authorization: Bearer <token>'";
  return `${describeGroup(group)} need an API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'${group === 'ui' ? ', or sign in on the UI' : ''}`;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
