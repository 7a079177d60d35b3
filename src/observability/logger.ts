import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
}

/** The process logger: one JSON object per line (what log shippers and `jq` expect). */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({ name: 'slipway', level: options.level ?? process.env.SLIPWAY_LOG_LEVEL ?? 'info' });
}

/** A logger that drops everything, for library users who did not ask for logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
