import type { JsonSchema, ServerTiming } from './api.js';
import type { FileValue } from './file-field.js';

/** One call the page made, as its result card shows it and as a flag stores it. */
export interface Run {
  id: number;
  model: string;
  api: 'predict' | 'infer';
  /** The version that answered (OIP says; for a handler, the newest READY version of its graph). */
  modelVersion: string | null;
  finishedAt: Date;
  latencyMs: number;
  serverTiming: ServerTiming[];
  /** The request as sent, files as `{"$file": "<part>"}`. */
  input: unknown;
  /** The request's files by part name, sent again with a flag (the server stores each once). */
  files: Map<string, FileValue>;
  /** Object URLs of the request's pictures, to draw boxes over. */
  images: string[];
  output?: unknown;
  outputSchema?: JsonSchema;
  error?: { status: number; message: string };
  /** What the example it came from says the answer is (`label`, …). */
  expected?: Record<string, unknown>;
  /** The example it came from, if any. */
  example?: string;
}

let nextId = 1;
export function runId(): number {
  return nextId++;
}
