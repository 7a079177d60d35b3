import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines instead of JSON; default: when stdout is a terminal. */
  pretty?: boolean;
}

/**
 * The process logger: one JSON object per line (what log shippers and `jq` expect), or pino-pretty
 * lines on a terminal (formatted on pino's transport thread, not on the one serving requests).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.SLIPWAY_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  // Buffered (4 KiB) asynchronous writes: one log line per request must not cost a write(2) each on
  // the thread that serves requests. pino flushes the buffer when the process exits.
  if (!pretty) {
    const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
    // …and a quiet server's lines still appear within a second.
    setInterval(() => destination.flush(), 1000).unref();
    return pino({ name: 'slipway', level }, destination);
  }
  return pino({ name: 'slipway', level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
}

/** A logger that drops everything, for library users who did not ask for logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
