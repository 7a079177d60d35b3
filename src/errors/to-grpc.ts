import type { ErrorCategory } from './codes.js';

/** Category → gRPC status code (numeric, as on the wire), kept complete by the compiler. */
export const GRPC_STATUS_BY_CATEGORY: Readonly<Record<ErrorCategory, number>> = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  // gRPC has no "too large" status; grpc-js itself answers oversized messages with RESOURCE_EXHAUSTED.
  PAYLOAD_TOO_LARGE: 8,
  // gRPC negotiates its own compression; a body it cannot read is the client's mistake.
  UNSUPPORTED_MEDIA_TYPE: 3,
  UNAUTHENTICATED: 16,
  UNAVAILABLE: 14,
  DEADLINE_EXCEEDED: 4,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
};

export function grpcStatusOf(category: ErrorCategory): number {
  return GRPC_STATUS_BY_CATEGORY[category];
}
