/**
 * What a Slipway (or Triton) server answered when a call failed: the server's message, its stable
 * `code` when it sent one (`INVALID_INPUT`, `MODEL_NOT_READY`, …), and the HTTP status or gRPC
 * status code. Transport failures use the codes `UNAVAILABLE` (no connection) and
 * `DEADLINE_EXCEEDED` (the client's timeout).
 *
 * @example
 * try { await client.infer('digits', inputs); }
 * catch (error) { if (error instanceof SlipwayClientError && error.code === 'INVALID_INPUT') console.error(error.message); }
 */
export class SlipwayClientError extends Error {
  readonly code: string;
  /** HTTP status, for the REST client. */
  readonly status: number | undefined;
  /** gRPC status code, for the gRPC client. */
  readonly grpcCode: number | undefined;

  constructor(message: string, details: { code: string; status?: number; grpcCode?: number; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SlipwayClientError';
    this.code = details.code;
    this.status = details.status;
    this.grpcCode = details.grpcCode;
  }
}
