// What a browser bundle knows about its model: written by `slipway edge` (edge-bundle.ts) as
// slipway-edge.json, read by the bundle's runtime (web/). Plain JSON, so both sides share it.
import type { ModelConfig } from '../config/model-config.js';
import type { ModelDescription } from '../protocol/http/model-description.js';
import type { ModelMetadata } from '../protocol/metadata-types.js';
import type { ModelExample } from '../ui/model-example.js';

/** The manifest's name inside a bundle. */
export const EDGE_MANIFEST_FILE = 'slipway-edge.json';
/** The size and latency report's name inside a bundle. */
export const EDGE_REPORT_FILE = 'edge-report.json';

/** One graph the bundle runs: the model's own, or one a pipeline calls. */
export interface EdgeGraph {
  version: string;
  /** Relative to the bundle. */
  file: string;
  bytes: number;
  /** The config the server resolved (signature, max_batch_size), so the browser checks requests as the server does. */
  config: ModelConfig;
  metadata: ModelMetadata;
}

/** The model's handler: compiled for the browser, or why it cannot run there. */
export type EdgeHandler =
  | { runs: 'device'; file: string; parameters: Record<string, string | number | boolean> }
  | { runs: 'server'; reason: string };

/** The onnxruntime-web builds a bundle carries, by execution provider; each is a module and its wasm. */
export interface EdgeRuntimeBuild {
  /** The ESM entry (relative to the bundle), e.g. `ort/ort.wasm.min.mjs`. */
  module: string;
  /** The files a device downloads for this build. */
  files: string[];
}

export interface EdgeManifest {
  format: 1;
  model: string;
  slipwayVersion: string;
  /** The model's own graph; absent for a pipeline (a handler and no graph). */
  graph?: EdgeGraph;
  /** Every graph shipped, by model name (the model's own and those its handler calls). */
  graphs: Record<string, EdgeGraph>;
  /** Absent when the model has no handler. */
  handler?: EdgeHandler;
  /** Data files the handler reads with ctx.readFile, relative to the model folder (shipped under `files/`). */
  files: string[];
  runtime: { wasm: EdgeRuntimeBuild; webgpu?: EdgeRuntimeBuild };
  fallback: {
    /** The server's base URL (absolute, or relative to the bundle); null: there is none to fall back to. */
    server: string | null;
    /** On-device latency budget; null: none. */
    latencyBudgetMs: number | null;
    /** Calls the budget's median is taken over. */
    latencyWindow: number;
  };
  /** For the bundle's page: what the server's `GET /api/models/{m}` said. */
  description: ModelDescription;
  /** For the bundle's page: the model's examples, their URLs relative to the bundle. */
  examples: ModelExample[];
}
