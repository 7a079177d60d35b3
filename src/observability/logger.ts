import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines instead of JSON; default: when stdout is a terminal. */
  pretty?: boolean;
}

/**
 * The process logger: one JSON object per line when stdout is a pipe, a file or a container's log
 * (what log shippers and `jq` expect), or one short pino-pretty line per event on a terminal
 * (formatted on pino's transport thread, not on the one serving requests).
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
  // Same events, one short line each (requests read like an access log); see pretty-transport.ts.
  return pino({ name: 'slipway', level, transport: { target: fileURLToPath(new URL('./pretty-transport.js', import.meta.url)), options: { colorize: true } } });
}

/** A logger that drops everything, for library users who did not ask for logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
