import { AccessKeys } from './access/access-keys.js';
import { presentedKey } from './access/presented-key.js';

/**
 * Guards the routes that change what the server serves (repository load/unload, traffic policies,
 * rollouts). They are off unless an admin token (or an `admin` key of a keys file) is configured;
 * then a caller must present it as `Authorization: Bearer <token>` or `x-api-key` (HTTP header or
 * gRPC metadata). Shared by every protocol so they refuse alike.
 *
 * @example
 * const guard = new AdminGuard(process.env.SLIPWAY_ADMIN_TOKEN);
 * guard.check(request.headers); // throws UNAUTHENTICATED or PERMISSION_DENIED
 */
export class AdminGuard {
  private readonly keys: AccessKeys;

  /** From the admin token alone, or from the server's keys (whose admin keys open these routes). */
  constructor(access: string | AccessKeys | undefined) {
    this.keys = access instanceof AccessKeys ? access : new AccessKeys({ keys: { admin: access === undefined ? [] : [access] } });
  }

  get enabled(): boolean {
    return this.keys.hasKeysFor('admin');
  }

  /** Throws unless the headers (or gRPC metadata, as a getter) carry an admin key. */
  check(headers: Readonly<Record<string, string | string[] | undefined>> | ((name: string) => string | undefined)): void {
    const header =
      typeof headers === 'function'
        ? headers
        : (name: string) => {
            const value = headers[name];
            return typeof value === 'string' ? value : undefined;
          };
    // Never the sign-in cookie: a browser sends that by itself, and these routes change the server.
    this.keys.check('admin', presentedKey(header));
  }
}
