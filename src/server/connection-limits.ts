import type { Server } from 'node:http';

/** Limits against slow, idle and too many clients on one HTTP listener. */
export interface ConnectionLimits {
  /** Open connections at most; Node closes the ones beyond at accept. */
  maxConnections?: number;
  /** Open connections one client address may hold; the ones beyond are closed at accept (see `AddressConnectionLimit`). */
  maxConnectionsPerIp?: number;
  /** The whole request, headers and body, must arrive within this (408 and the connection cut). */
  requestTimeoutMs?: number;
  /** The headers must arrive within this. */
  headersTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs?: number;
}

/**
 * How often Node checks the request and header timeouts. Its default (30 s) lets a trickled body
 * live up to 30 s past its timeout; a second costs one walk over the open connections.
 */
const CHECKING_INTERVAL_MS = 1000;

/** The Fastify options that carry the limits into the `http.Server` it creates. */
export function connectionServerOptions(limits: ConnectionLimits): {
  requestTimeout?: number;
  keepAliveTimeout?: number;
  http: { connectionsCheckingInterval: number; headersTimeout?: number; requestTimeout?: number };
} {
  return {
    ...(limits.requestTimeoutMs !== undefined && { requestTimeout: limits.requestTimeoutMs }),
    ...(limits.keepAliveTimeoutMs !== undefined && { keepAliveTimeout: limits.keepAliveTimeoutMs }),
    http: {
      connectionsCheckingInterval: CHECKING_INTERVAL_MS,
      ...(limits.headersTimeoutMs !== undefined && { headersTimeout: limits.headersTimeoutMs }),
      ...(limits.requestTimeoutMs !== undefined && { requestTimeout: limits.requestTimeoutMs }),
    },
  };
}

/** What the server constructor cannot take: the connection count. */
export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  if (limits.maxConnections !== undefined) server.maxConnections = limits.maxConnections;
  if (limits.headersTimeoutMs !== undefined) server.headersTimeout = limits.headersTimeoutMs;
}
