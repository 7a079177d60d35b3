import type { ShadowCompareMode } from '../config/traffic-config.js';
import type { AnalysisSummary } from './canary-analysis.js';

/** Where a rollout is: still moving, finished with the candidate on 100%, or back on the stable. */
export type RolloutState = 'progressing' | 'promoted' | 'rolled_back';

export type RolloutDecisionKind = 'start' | 'advance' | 'wait' | 'rollback' | 'promote' | 'resume';

/** A rollout's settings once defaults are filled in (stored with it, so a restart keeps them). */
export interface RolloutSpec {
  from: number;
  to: number;
  steps: number[];
  interval_ms: number;
  step_deadline_ms: number;
  min_requests: number;
  min_success_rate: number;
  max_p99_ratio: number;
  max_p99_ms: number | null;
  significance: number;
  shadow_percent: number;
  shadow_compare: ShadowCompareMode;
  shadow_tolerance: number;
  min_agreement: number;
}

/** One decision, with the numbers it was taken on (one log line is written for each, too). */
export interface RolloutDecision {
  /** ISO 8601, UTC. */
  at: string;
  decision: RolloutDecisionKind;
  /** The step the decision was taken at (0-based) and the candidate's share then. */
  step: number;
  percent: number;
  reason: string;
  /** Who decided: the controller (automatic), or a person through the admin API / CLI. */
  by: 'controller' | 'admin' | 'config';
  analysis?: AnalysisSummary;
}

export interface RolloutRecord {
  id: string;
  state: RolloutState;
  spec: RolloutSpec;
  /** Index into spec.steps of the step running now (or last run). */
  step: number;
  /** The candidate's share now, in percent. */
  percent: number;
  started_at: string;
  step_started_at: string;
  finished_at: string | null;
  /** Why it finished (rolled back or promoted), in a sentence. */
  reason: string | null;
  decisions: RolloutDecision[];
}

/** A traffic policy set through the admin API or by a rollout (config.yaml's applies when there is none). */
export interface StoredTraffic {
  /** Version → relative weight. */
  weights: Record<string, number>;
  stable: number;
  shadow: { version: number; percent: number; compare: ShadowCompareMode; tolerance: number } | null;
  source: 'admin' | 'rollout';
  updated_at: string;
}

/** Everything stored for one model: its traffic policy, its current (or last) rollout, and earlier ones. */
export interface ModelRolloutDocument {
  traffic: StoredTraffic | null;
  rollout: RolloutRecord | null;
  /** Finished rollouts before the current one, newest first (a bounded history). */
  history: RolloutRecord[];
}

/** A model's document as stored, with the revision that changes on every write. */
export interface StoredModelRollout {
  model: string;
  revision: number;
  document: ModelRolloutDocument;
}

/**
 * Where rollout state lives so that it survives restarts and every replica reads the same policy.
 * Writes are compare-and-set on a revision, so two replicas (or the controller and a person) never
 * overwrite each other's decisions; the lease says which replica runs a model's analysis. Every
 * implementation passes the contract suite in test/router/rollout-store-contract.ts.
 *
 * @example
 * const store = await openRolloutStore('sqlite:./rollouts.db');
 * const revision = await store.put('digits', document, 0); // 0: the model has no row yet
 */
export interface RolloutStore {
  /** Where it is, for messages (passwords removed). */
  readonly location: string;
  /** Every model's document (a few rows: one per model that ever had a policy). */
  list(): Promise<StoredModelRollout[]>;
  get(model: string): Promise<StoredModelRollout | undefined>;
  /**
   * Writes the document if the stored revision is still `expectedRevision` (0: no row yet) and
   * returns the new revision; undefined when someone else wrote first.
   */
  put(model: string, document: ModelRolloutDocument, expectedRevision: number): Promise<number | undefined>;
  /** Takes or renews the model's lease for `owner` until `nowMs + ttlMs`; false while another owner's lease runs. */
  acquireLease(model: string, owner: string, nowMs: number, ttlMs: number): Promise<boolean>;
  releaseLease(model: string, owner: string): Promise<void>;
  close(): Promise<void>;
}

/** An empty document, for a model with nothing stored. */
export function emptyDocument(): ModelRolloutDocument {
  return { traffic: null, rollout: null, history: [] };
}

/** Finished rollouts kept per model. */
export const HISTORY_LIMIT = 20;
/** Decisions kept per rollout (the first, `start`, is always kept). */
export const DECISION_LIMIT = 200;

/** A stored document's text, read back; fields a newer or older writer left out take their empty values. */
export function parseDocument(text: string, model: string): ModelRolloutDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`the stored rollout state of model '${model}' is not JSON: ${(error as Error).message}`);
  }
  const doc = (typeof value === 'object' && value !== null ? value : {}) as Partial<ModelRolloutDocument>;
  return { traffic: doc.traffic ?? null, rollout: doc.rollout ?? null, history: Array.isArray(doc.history) ? doc.history : [] };
}
