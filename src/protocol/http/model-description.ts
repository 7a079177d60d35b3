import type { ModelState } from '../../repository/model-state.js';

/** `GET /api/models/{m}`: a model's kind, state, versions and handler (its schemas, content types and limits). */
export interface ModelDescription {
  name: string;
  kind: 'pipeline' | 'graph';
  state: string;
  reason?: string;
  versions: Array<{ version: string; state: ModelState; reason: string }>;
  handler: null | {
    file: string | undefined;
    state: ModelState;
    reason: string;
    /** `tensor`: a tensor handler (defineTensorHandler), called over OIP infer like a graph; it has no predict route. */
    mode?: 'predict' | 'graph' | 'tensor';
    description?: string;
    predict?: { method: 'POST'; path: string; content_types: string[] };
    input_schema?: Record<string, unknown>;
    output_schema?: Record<string, unknown>;
    file_fields?: string[];
    /** The models a pipeline handler calls (`handler.uses` in config.yaml). */
    uses?: readonly string[];
    limits: { timeout_ms: number; max_file_bytes: number; max_files: number; max_concurrency: number };
  };
}
