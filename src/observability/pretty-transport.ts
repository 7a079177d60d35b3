// pino's transport for a terminal (see logger.ts): pino-pretty with a short line per event, so the
// request log reads like an access log and stays out of a person's way. A module of its own because
// pino runs transports on a worker thread, where only a module path (not a function) can be sent.
import pretty, { type PrettyOptions } from 'pino-pretty';

/** Fields folded into the message line; whatever else a line carries is still printed after it. */
const FOLDED = ['method', 'url', 'status', 'latencyMs', 'code', 'model', 'version', 'protocol', 'batchSize', 'event', 'loadMs', 'instances', 'intraOpThreads', 'file'];

type Line = Record<string, unknown>;

/** `POST /api/models/digits/predict 200 12.3 ms · digits v1` for a request, the message otherwise. */
export function formatLine(log: Line, messageKey: string): string {
  if (log[messageKey] !== 'request') return String(log[messageKey] ?? '');
  const model = log.model === undefined ? '' : ` · ${String(log.model)} v${String(log.version)}`;
  const code = log.code === undefined ? '' : ` ${String(log.code)}`;
  const batch = log.batchSize === undefined ? '' : ` batch ${String(log.batchSize)}`;
  return `${String(log.method)} ${String(log.url)} ${String(log.status)}${code} ${String(log.latencyMs)} ms${model}${batch}`;
}

export default function prettyTransport(options: PrettyOptions) {
  return pretty({
    ...options,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss',
    // The request id stays in the JSON log (and the x-request-id header); on a terminal it is noise.
    ignore: ['pid', 'hostname', 'name', 'reqId', 'requestId', ...FOLDED].join(','),
    messageFormat: formatLine,
  });
}
