/** What a person said about a result: it was right, it was wrong, or something else (see the comment). */
export type FlagLabel = 'right' | 'wrong' | 'other';

export const FLAG_LABELS: readonly FlagLabel[] = ['right', 'wrong', 'other'];

/** Which API produced the flagged result: a handler's `/api/models/{m}/predict` or OIP `/v2/models/{m}/infer`. */
export type FlagApi = 'predict' | 'infer';

/**
 * A flag as stored. `input` and `output` are JSON documents in which every file, and any document
 * over the inline limit, is a blob reference (`{"$blob": sha256, "media_type", "bytes", …}`).
 */
export interface NewFlag {
  /** ISO 8601 time, UTC, milliseconds. */
  createdAt: string;
  model: string;
  /** The version that answered; null for a pipeline (a handler without a graph of its own). */
  modelVersion: string | null;
  api: FlagApi;
  label: FlagLabel;
  /** What the answer should have been, in the person's words (optional). */
  expected: string | null;
  comment: string;
  /** The latency the person saw, client side. */
  latencyMs: number | null;
  input: unknown;
  output: unknown;
}

export interface StoredFlag extends NewFlag {
  id: number;
}

/** A content-addressed byte string: an uploaded file, or a large JSON document. */
export interface FeedbackBlob {
  /** Lower-case hex SHA-256 of `data`. */
  sha256: string;
  mediaType: string;
  data: Uint8Array;
}

export interface FlagFilter {
  model?: string;
  label?: FlagLabel;
}

export interface FlagQuery extends FlagFilter {
  /** Newest first: flags with a smaller id than this. */
  beforeId?: number;
  /** Oldest first: flags with a larger id than this (export walks this way). */
  afterId?: number;
  limit: number;
}

export interface FeedbackCounts {
  flags: number;
  blobs: number;
  blobBytes: number;
}

/**
 * Where the UI keeps feedback. Every implementation passes the contract suite in
 * test/ui/feedback/feedback-store-contract.ts; blobs are stored once per SHA-256 however many
 * flags refer to them.
 *
 * @example
 * const store = await openFeedbackStore('sqlite:./feedback.db');
 * const flag = await store.addFlag({ ...newFlag }, [blob]);
 * console.log((await store.listFlags({ limit: 10 })).map((f) => f.label));
 * await store.close();
 */
export interface FeedbackStore {
  /** Where it is, for messages (passwords removed). */
  readonly location: string;
  /** Stores a flag and the blobs it refers to, in one transaction; a blob already stored is not written again. */
  addFlag(flag: NewFlag, blobs: readonly FeedbackBlob[]): Promise<StoredFlag>;
  getFlag(id: number): Promise<StoredFlag | undefined>;
  /** Newest first, unless `afterId` is given (then oldest first). */
  listFlags(query: FlagQuery): Promise<StoredFlag[]>;
  countFlags(filter: FlagFilter): Promise<number>;
  getBlob(sha256: string): Promise<FeedbackBlob | undefined>;
  counts(): Promise<FeedbackCounts>;
  close(): Promise<void>;
}

/** The schema version this code writes; a store written by a newer Slipway is refused rather than misread. */
export const FEEDBACK_SCHEMA_VERSION = 1;
