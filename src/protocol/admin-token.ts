import { createHash, timingSafeEqual } from 'node:crypto';
import { ServingError } from '../errors/serving-error.js';

/**
 * Guards the routes that change what the server serves (repository load/unload, traffic policies,
 * rollouts). They are off
 * unless an admin token is configured; then a caller must present it as `Authorization: Bearer
 * <token>` (HTTP header or gRPC metadata). Shared by every protocol so they refuse alike.
 *
 * @example
 * const guard = new AdminGuard(process.env.SLIPWAY_ADMIN_TOKEN);
 * guard.check(request.headers.authorization); // throws UNAUTHENTICATED or PERMISSION_DENIED
 */
export class AdminGuard {
  private readonly digest: Buffer | undefined;

  constructor(token: string | undefined) {
    // Compared as digests, so the comparison takes the same time whatever the lengths.
    this.digest = token === undefined || token === '' ? undefined : sha256(token);
  }

  get enabled(): boolean {
    return this.digest !== undefined;
  }

  /** Throws unless `authorization` carries the configured token. */
  check(authorization: string | undefined): void {
    if (this.digest === undefined) {
      throw new ServingError(
        'PERMISSION_DENIED',
        'changes to what the server serves (repository load and unload, traffic, rollouts) are disabled: start the server with --admin-token (or SLIPWAY_ADMIN_TOKEN) to allow them',
      );
    }
    const match = authorization === undefined ? null : /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match === null) {
      throw new ServingError('UNAUTHENTICATED', "this route needs the admin token: send 'Authorization: Bearer <token>'");
    }
    if (!timingSafeEqual(sha256(match[1]!), this.digest)) {
      throw new ServingError('UNAUTHENTICATED', 'the admin token is wrong');
    }
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
