import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ServerConfig } from '../config/server-config.js';
import { ServingError } from '../errors/serving-error.js';
import { AccessKeys } from '../protocol/access/access-keys.js';
import { readKeysFile } from '../protocol/access/keys-file.js';
import { RateLimiter } from '../protocol/access/rate-limiter.js';

/** What `slipway serve` guards its listeners with, built once from its options. */
export interface ServerAccess {
  keys: AccessKeys;
  /** A UI key made up at start because feedback reads need one and none was given (print it). */
  generatedUiKey?: string;
  /** One limiter for HTTP and gRPC, so a key has one budget whichever protocol it uses. */
  rateLimiter?: RateLimiter;
  tls?: { cert: Buffer; key: Buffer };
  /** Host names the UI answers to: --allowed-host, plus --host when it is a name. */
  allowedHosts: string[];
}

type AccessSettings = Pick<ServerConfig, 'host' | 'allowed_hosts' | 'ui' | 'admin_token' | 'api_keys' | 'ui_keys' | 'keys_file' | 'open_feedback' | 'tls_cert' | 'tls_key' | 'rate_limit' | 'rate_limit_burst'>;

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (name === 'localhost') return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  return name === '::1' || name === '::ffff:127.0.0.1';
}

/**
 * The keys, limits and certificate of a server. Feedback reads need a key when the server listens
 * beyond loopback (unless `open_feedback`) or when inference does; with no UI or admin key to open
 * them, one is generated (and `generatedUiKey` says which, for the banner).
 *
 * @example
 * const access = serverAccess(config);
 * createHttpServer(slipway, { access: access.keys, ...(access.rateLimiter && { rateLimiter: access.rateLimiter }) });
 */
export function serverAccess(config: Readonly<AccessSettings>, generate: () => string = () => `ui-${randomBytes(18).toString('base64url')}`): ServerAccess {
  const file = config.keys_file === undefined ? { inference: [], ui: [], admin: [] } : readKeysFile(config.keys_file);
  const inference = [...(config.api_keys ?? []), ...file.inference];
  const ui = [...(config.ui_keys ?? []), ...file.ui];
  const admin = [...(config.admin_token === undefined ? [] : [config.admin_token]), ...file.admin];
  const uiRequired = !config.open_feedback && (!isLoopbackHost(config.host) || ui.length > 0 || inference.length > 0);
  let generatedUiKey: string | undefined;
  if (config.ui && uiRequired && ui.length === 0 && admin.length === 0) {
    generatedUiKey = generate();
    ui.push(generatedUiKey);
  }
  const keys = new AccessKeys({ keys: { inference, ui, admin }, require: { inference: inference.length > 0, ui: uiRequired } });
  const rateLimiter =
    config.rate_limit === undefined ? undefined : new RateLimiter({ ratePerSecond: config.rate_limit, burst: config.rate_limit_burst ?? Math.max(1, Math.ceil(config.rate_limit)) });
  const tls = config.tls_cert !== undefined && config.tls_key !== undefined ? { cert: readPem(config.tls_cert, 'tls_cert'), key: readPem(config.tls_key, 'tls_key') } : undefined;
  // A server told to listen on a name is reached by that name.
  const allowedHosts = [...(config.allowed_hosts ?? []), ...(isIP(config.host.replace(/^\[|\]$/g, '')) === 0 ? [config.host.toLowerCase()] : [])];
  return { keys, allowedHosts, ...(generatedUiKey !== undefined && { generatedUiKey }), ...(rateLimiter !== undefined && { rateLimiter }), ...(tls !== undefined && { tls }) };
}

function readPem(path: string, option: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw new ServingError('CONFIG_INVALID', `${option}: cannot read ${path}: ${(error as Error).message}`);
  }
  if (!pem.toString('latin1').includes('-----BEGIN ')) throw new ServingError('CONFIG_INVALID', `${option}: ${path} is not a PEM file (expected a '-----BEGIN …' block)`);
  return pem;
}
