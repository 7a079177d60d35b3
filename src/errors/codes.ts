/**
 * The one registry of stable error codes. Clients and logs key on `code`; the category decides the
 * HTTP and gRPC status (see `to-http.ts`, `to-grpc.ts`), so a code never picks its own status.
 */
export type ErrorCategory =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'UNIMPLEMENTED'
  | 'INTERNAL';

export const ERROR_CODES = {
  INVALID_INPUT: 'INVALID_ARGUMENT',
  MALFORMED_REQUEST: 'INVALID_ARGUMENT',
  UNSUPPORTED_DATATYPE: 'INVALID_ARGUMENT',
  CONFIG_INVALID: 'INVALID_ARGUMENT',
  MODEL_NOT_FOUND: 'NOT_FOUND',
  VERSION_NOT_FOUND: 'NOT_FOUND',
  ROUTE_NOT_FOUND: 'NOT_FOUND',
  MODEL_NOT_READY: 'UNAVAILABLE',
  SERVER_SHUTTING_DOWN: 'UNAVAILABLE',
  INSTANCE_FAILED: 'UNAVAILABLE',
  QUEUE_FULL: 'RESOURCE_EXHAUSTED',
  /** The model's queue holds more work than it can start within max_queue_wait_microseconds (admission by expected wait). */
  QUEUE_WAIT_EXCEEDED: 'RESOURCE_EXHAUSTED',
  /** The process's budget of request bytes in flight (max_inflight_bytes) cannot take this request now. */
  MEMORY_BUDGET_EXCEEDED: 'RESOURCE_EXHAUSTED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** A request body in a Content-Encoding the server does not decode (gzip, deflate and br it does). */
  UNSUPPORTED_ENCODING: 'UNSUPPORTED_MEDIA_TYPE',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /** A request over its key's (or address's) rate limit (--rate-limit); Retry-After says when to come back. */
  RATE_LIMITED: 'RESOURCE_EXHAUSTED',
  /** The UI or feedback API asked for under a Host name that is not allowed (DNS rebinding protection). */
  HOST_NOT_ALLOWED: 'PERMISSION_DENIED',
  /** A write to the UI's API from another site's page (Origin / Sec-Fetch-Site). */
  CROSS_SITE_REQUEST: 'PERMISSION_DENIED',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** A repository load whose model could not be loaded (bad file, bad config); the reason is in the message. */
  MODEL_LOAD_FAILED: 'INVALID_ARGUMENT',
  /** A dialect route that cannot tell which model a request is for (several are served, none named). */
  MODEL_AMBIGUOUS: 'INVALID_ARGUMENT',
  /** A model without a handler (handler.ts) asked for a prediction. */
  HANDLER_NOT_FOUND: 'NOT_FOUND',
  /** A batch run that another live process is working on, or that exists already with other options. */
  RUN_CONFLICT: 'ALREADY_EXISTS',
  /** A batch predictions table that no batch job has written (GET /v1/batch/{table}/{key}). */
  TABLE_NOT_FOUND: 'NOT_FOUND',
  /** A key with no stored batch prediction. */
  PREDICTION_NOT_FOUND: 'NOT_FOUND',
  /** The batch database (--batch-db, --output) cannot be reached or opened. */
  DATABASE_UNAVAILABLE: 'UNAVAILABLE',
  /** A feedback flag or stored feedback file that does not exist (the prototype UI's /api/feedback). */
  FEEDBACK_NOT_FOUND: 'NOT_FOUND',
  /** A graph's Switch node found no step whose condition holds (KServe's router answers 404 too). */
  GRAPH_NO_ROUTE: 'NOT_FOUND',
  /** A graph's remote step could not be reached, or failed with an error this server has no code for. */
  REMOTE_STEP_FAILED: 'UNAVAILABLE',
  /** A rollout of this model is already in progress (one at a time per model). */
  ROLLOUT_CONFLICT: 'ALREADY_EXISTS',
  /** Promote asked of a model with no rollout in progress. */
  ROLLOUT_NOT_FOUND: 'NOT_FOUND',
  NOT_IMPLEMENTED: 'UNIMPLEMENTED',
  /** `slipway optimize` met an operator, opset or tensor type it has no rule for; the message names it. */
  OPTIMIZE_UNSUPPORTED: 'UNIMPLEMENTED',
  /** A model version with no optimize-report.json (it was not written by `slipway optimize`). */
  REPORT_NOT_FOUND: 'NOT_FOUND',
  INFERENCE_FAILED: 'INTERNAL',
  /** A handler threw, or returned output its schema refuses; the message says which. */
  HANDLER_FAILED: 'INTERNAL',
  INTERNAL: 'INTERNAL',
} as const satisfies Record<string, ErrorCategory>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function categoryOf(code: ErrorCode): ErrorCategory {
  return ERROR_CODES[code];
}
