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
  /** What was sent, as a person names it: the file's name (`drawing.png`, `four.png`) or `tensors`. */
  source: string;
}

/** A call waiting its turn or running: the queue's view of it. */
export interface RunJob {
  id: number;
  /** What it sends, as its card names it until the answer comes. */
  source: string;
  example?: string;
  /** A picture it sends (object URL), shown small on its card. */
  thumbnail?: string;
  /** Makes the call; rejects with an AbortError when `signal` aborts. */
  execute: (signal: AbortSignal, onUploadProgress: (sent: number) => void) => Promise<Run>;
}

/** The call's answer, or the error that stands for it on the card (an AbortError is rethrown: nothing to show). */
export function failedRun(base: Omit<Run, 'latencyMs' | 'serverTiming' | 'finishedAt'>, error: unknown, startedMs: number): Run {
  if (error instanceof DOMException && error.name === 'AbortError') throw error;
  const status = typeof error === 'object' && error !== null && 'status' in error ? Number((error as { status: unknown }).status) : 0;
  return { ...base, error: { status, message: error instanceof Error ? error.message : String(error) }, latencyMs: performance.now() - startedMs, serverTiming: [], finishedAt: new Date() };
}

let nextId = 1;
export function runId(): number {
  return nextId++;
}

/** After results were restored from the browser: new ones number on from theirs. */
export function runIdsAbove(id: number): void {
  nextId = Math.max(nextId, id + 1);
}
