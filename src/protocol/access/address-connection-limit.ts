import type { Server, Socket } from 'node:net';
import type { Logger } from '../../observability/logger.js';
import { LogLimiter } from '../../observability/log-limiter.js';

export interface AddressConnectionLimitOptions {
  /** Open connections one client address may hold at once; the ones beyond are closed at accept. */
  maxPerAddress: number;
  /** Which listener this guards, for the log line and the metric (`http`, `grpc`). */
  protocol: string;
  /** Refusals are logged at most once per address per `logIntervalMs`. */
  logger?: Pick<Logger, 'warn'>;
  logIntervalMs?: number;
  /** Called for every refused connection (a metric counter). */
  onRefused?: (protocol: string) => void;
}

/** A refused address is logged once a minute at most: a flooding client chooses how often it is refused. */
const DEFAULT_LOG_INTERVAL_MS = 60_000;

/**
 * Counts the open connections of each client address and closes, at accept, the ones beyond the
 * limit: one client cannot take every descriptor that `max_connections` leaves. The address is the
 * socket's peer, so behind a reverse proxy or load balancer every client shares the proxy's
 * address (limit there, or raise this). Loopback is an address like any other. IPv4-mapped IPv6
 * addresses (`::ffff:10.0.0.7`) count as their IPv4 address.
 *
 * @example
 * const limit = new AddressConnectionLimit({ maxPerAddress: 64, protocol: 'http', logger });
 * limit.guard(app.server);
 */
export class AddressConnectionLimit {
  private readonly open = new Map<string, number>();
  private readonly logLimiter: LogLimiter;
  readonly maxPerAddress: number;

  constructor(private readonly options: AddressConnectionLimitOptions) {
    if (!Number.isInteger(options.maxPerAddress) || options.maxPerAddress < 1) throw new RangeError(`maxPerAddress: expected a positive integer, got ${options.maxPerAddress}`);
    this.maxPerAddress = options.maxPerAddress;
    this.logLimiter = new LogLimiter({ linesPerInterval: 1, intervalMs: options.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS });
  }

  /** Checks every connection `server` accepts; the ones over the limit are destroyed before a byte is read. */
  guard(server: Server): void {
    server.on('connection', (socket: Socket) => void this.admit(socket));
  }

  /**
   * Counts `socket` in (until it closes) and returns true, or destroys it and returns false when its
   * address already holds `maxPerAddress` connections.
   */
  admit(socket: Socket): boolean {
    // Undefined once the peer has already gone: nothing to count.
    const raw = socket.remoteAddress;
    if (raw === undefined) {
      socket.destroy();
      return false;
    }
    const address = raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
    const count = this.open.get(address) ?? 0;
    if (count >= this.maxPerAddress) {
      socket.destroy();
      this.options.onRefused?.(this.options.protocol);
      const { log, suppressed } = this.logLimiter.admit(address);
      if (log) {
        this.options.logger?.warn(
          { event: 'connection_refused', protocol: this.options.protocol, address, open: count, limit: this.maxPerAddress, suppressed },
          `${this.options.protocol}: a connection from ${address} was closed: it already holds ${count} (max_connections_per_ip)`,
        );
      }
      return false;
    }
    this.open.set(address, count + 1);
    socket.once('close', () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left <= 0) this.open.delete(address);
      else this.open.set(address, left);
    });
    return true;
  }
}
