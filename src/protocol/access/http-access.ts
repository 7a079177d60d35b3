import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServingError } from '../../errors/serving-error.js';
import type { AccessKeys, KeyIdentity } from './access-keys.js';
import { noteKey } from '../http/request-context.js';
import { KEY_COOKIE, presentedKey } from './presented-key.js';
import type { RateDecision, RateLimiter } from './rate-limiter.js';
import { routeAccess, type RouteAccess } from './route-access.js';

export interface HttpAccessOptions {
  keys: AccessKeys;
  /**
   * Host names the UI and feedback API answer to, besides IP literals, `localhost` and
   * `*.localhost` (DNS rebinding: a page of another site must not reach them through a name that
   * resolves here). `*` allows any.
   */
  allowedHosts?: readonly string[];
  /** Token buckets per key (or per address without one); none when absent. */
  rateLimiter?: RateLimiter;
  /** Extra probe routes (Vertex AI's AIP_HEALTH_ROUTE): open and never rate limited. */
  probes?: readonly string[];
  /** Mark the sign-in cookie Secure (the server speaks https). */
  secureCookie?: boolean;
  /** Register the UI's sign-in route, `/api/session` (default true). */
  signIn?: boolean;
}

const SESSION_MAX_AGE_S = 12 * 3600;

/**
 * Access control for the HTTP server, in one `onRequest` hook so it runs before any body is read:
 * Host allow-list and same-origin writes for the UI and feedback API, the per-group API keys, and
 * per-key rate limits. Also the UI's sign-in route (`POST /api/session` with `{"key": "…"}` sets an
 * HttpOnly, SameSite=Strict cookie; `DELETE` signs out; `GET` says whether keys are needed and
 * whether this browser has one).
 *
 * @example
 * installHttpAccess(app, { keys: new AccessKeys({ keys: { ui: ['u-1234567890'] } }) });
 */
export function installHttpAccess(app: FastifyInstance, options: HttpAccessOptions): void {
  const { keys, rateLimiter } = options;
  const hosts = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const probes = options.probes ?? [];

  // Callback style (a throw still becomes the error answer): an async hook costs a promise and a
  // microtask on every request.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method === 'OPTIONS') return done();
    const path = request.url.split('?', 1)[0]!;
    const accept = request.headers.accept;
    const access = routeAccess(request.method, path, { extraProbes: probes, acceptsHtml: typeof accept === 'string' && accept.includes('text/html') });
    if (access === 'probe') return done();
    if (access === 'page' || access === 'session' || access === 'feedback-read' || access === 'feedback-write') checkHost(request, hosts);
    if (access === 'session' || access === 'feedback-write') checkSameOrigin(request);
    const key = presentedKey(headerOf(request), { cookie: true });
    const identity = keys.identify(key);
    if (identity !== undefined) noteKey(request, identity.id);
    if (rateLimiter !== undefined) {
      const decision = rateLimiter.take(identity?.id ?? `ip:${request.ip}`);
      setRateHeaders(reply, decision);
      if (!decision.allowed) {
        throw new ServingError('RATE_LIMITED', `rate limit exceeded: ${formatRate(rateLimiter)} per ${identity === undefined ? 'client address' : 'key'}; retry in ${decision.retryAfterSeconds} s`, {
          retryAfterSeconds: decision.retryAfterSeconds,
        });
      }
    }
    const group = groupOf(access);
    if (group !== undefined) keys.check(group, key);
    done();
  });

  if (options.signIn === false) return;
  const cookie = (value: string, maxAge: number) =>
    `${KEY_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${options.secureCookie === true ? '; Secure' : ''}`;

  app.get('/api/session', async (request) => {
    const identity = keys.identify(presentedKey(headerOf(request), { cookie: true }));
    return sessionBody(keys, identity);
  });
  app.post('/api/session', async (request: FastifyRequest<{ Body: unknown }>, reply: FastifyReply) => {
    const body = request.body;
    const key = typeof body === 'object' && body !== null && typeof (body as { key?: unknown }).key === 'string' ? (body as { key: string }).key.trim() : undefined;
    if (key === undefined || key === '') throw new ServingError('INVALID_INPUT', 'key: expected a JSON body {"key": "<API key>"}');
    const identity = keys.identify(key);
    if (identity === undefined) throw new ServingError('UNAUTHENTICATED', "the key is wrong (it is none of this server's keys)");
    request.log.info({ event: 'ui_sign_in', key: identity.id }, 'UI sign-in');
    return reply.header('set-cookie', cookie(key, SESSION_MAX_AGE_S)).header('cache-control', 'no-store').send(sessionBody(keys, identity));
  });
  app.delete('/api/session', async (_request, reply) => reply.header('set-cookie', cookie('', 0)).send(sessionBody(keys, undefined)));
}

function sessionBody(keys: AccessKeys, identity: KeyIdentity | undefined) {
  return {
    signed_in: identity !== undefined,
    group: identity?.group ?? null,
    key_required: { inference: keys.required('inference'), ui: keys.required('ui') },
  };
}

function groupOf(access: RouteAccess): 'inference' | 'ui' | undefined {
  switch (access) {
    case 'inference':
    case 'feedback-write':
      return 'inference';
    case 'feedback-read':
      return 'ui';
    default:
      // Pages, docs and sign-in are open; admin routes check the admin token themselves.
      return undefined;
  }
}

function headerOf(request: FastifyRequest): (name: string) => string | undefined {
  return (name) => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
}

/** The Host header's name without its port (`[::1]:8000` → `::1`). */
export function hostName(host: string): string {
  const trimmed = host.trim().toLowerCase();
  if (trimmed.startsWith('[')) return trimmed.slice(1, trimmed.indexOf(']') < 0 ? undefined : trimmed.indexOf(']'));
  const colon = trimmed.lastIndexOf(':');
  return colon < 0 ? trimmed : trimmed.slice(0, colon);
}

function checkHost(request: FastifyRequest, allowed: ReadonlySet<string>): void {
  if (allowed.has('*')) return;
  const host = request.headers.host;
  if (host === undefined || host === '') throw new ServingError('HOST_NOT_ALLOWED', 'the request has no Host header: the UI and feedback API answer only to allowed host names');
  const name = hostName(host);
  if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.has(name)) return;
  throw new ServingError(
    'HOST_NOT_ALLOWED',
    `host '${name.slice(0, 100)}' is not allowed for the UI and feedback API (DNS rebinding protection): start the server with --allowed-host ${name.slice(0, 100)} (env SLIPWAY_ALLOWED_HOSTS) to serve it under that name`,
  );
}

/**
 * Refuses writes a page of another site makes (a cross-site form POST carries the browser's
 * cookie-less but still effective request): browsers say where a request comes from in
 * Sec-Fetch-Site and Origin; clients that are not browsers send neither and pass.
 */
function checkSameOrigin(request: FastifyRequest): void {
  if (request.method === 'GET' || request.method === 'HEAD') return;
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
    throw new ServingError('CROSS_SITE_REQUEST', `a ${site} ${request.method} to ${request.url.split('?', 1)[0]} is refused: the UI's writes must come from its own pages`);
  }
  const origin = request.headers.origin;
  if (typeof origin !== 'string') return;
  let originHost: string | undefined;
  try {
    originHost = origin === 'null' ? undefined : new URL(origin).host.toLowerCase();
  } catch {
    originHost = undefined;
  }
  if (originHost === undefined || originHost !== (request.headers.host ?? '').toLowerCase()) {
    throw new ServingError('CROSS_SITE_REQUEST', `a ${request.method} from origin '${origin.slice(0, 100)}' is refused: the UI's writes must come from its own pages (${request.headers.host ?? 'no Host'})`);
  }
}

function setRateHeaders(reply: FastifyReply, decision: RateDecision): void {
  reply.header('ratelimit-limit', String(decision.limit)).header('ratelimit-remaining', String(decision.remaining)).header('ratelimit-reset', String(decision.resetSeconds));
}

function formatRate(limiter: RateLimiter): string {
  const { ratePerSecond, burst } = limiter.limit;
  return `${Number(ratePerSecond.toFixed(3))} requests/s (burst ${burst})`;
}
