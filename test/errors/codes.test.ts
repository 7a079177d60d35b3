import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, categoryOf, type ErrorCategory, type ErrorCode } from '../../src/errors/codes.js';
import { HTTP_STATUS_BY_CATEGORY, httpStatusOf } from '../../src/errors/to-http.js';
import { GRPC_STATUS_BY_CATEGORY, grpcStatusOf } from '../../src/errors/to-grpc.js';
import { ServingError, isServingError, toServingError } from '../../src/errors/serving-error.js';

// The expected statuses are written out per code (not derived from the src tables), so a code moved to
// the wrong category, or a category mapped to the wrong status, fails here. `Record<ErrorCode, …>` makes
// the compiler refuse a code added to the registry without a row here.
const EXPECTED: Record<ErrorCode, { category: ErrorCategory; http: number; grpc: number }> = {
  INVALID_INPUT: { category: 'INVALID_ARGUMENT', http: 400, grpc: 3 },
  MALFORMED_REQUEST: { category: 'INVALID_ARGUMENT', http: 400, grpc: 3 },
  UNSUPPORTED_DATATYPE: { category: 'INVALID_ARGUMENT', http: 400, grpc: 3 },
  CONFIG_INVALID: { category: 'INVALID_ARGUMENT', http: 400, grpc: 3 },
  MODEL_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  VERSION_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  ROUTE_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  MODEL_NOT_READY: { category: 'UNAVAILABLE', http: 503, grpc: 14 },
  SERVER_SHUTTING_DOWN: { category: 'UNAVAILABLE', http: 503, grpc: 14 },
  INSTANCE_FAILED: { category: 'UNAVAILABLE', http: 503, grpc: 14 },
  QUEUE_FULL: { category: 'RESOURCE_EXHAUSTED', http: 429, grpc: 8 },
  QUEUE_WAIT_EXCEEDED: { category: 'RESOURCE_EXHAUSTED', http: 429, grpc: 8 },
  MEMORY_BUDGET_EXCEEDED: { category: 'RESOURCE_EXHAUSTED', http: 429, grpc: 8 },
  // gRPC has no "too large" status; grpc-js answers oversized messages with RESOURCE_EXHAUSTED (8).
  PAYLOAD_TOO_LARGE: { category: 'PAYLOAD_TOO_LARGE', http: 413, grpc: 8 },
  UNSUPPORTED_ENCODING: { category: 'UNSUPPORTED_MEDIA_TYPE', http: 415, grpc: 3 },
  DEADLINE_EXCEEDED: { category: 'DEADLINE_EXCEEDED', http: 504, grpc: 4 },
  UNAUTHENTICATED: { category: 'UNAUTHENTICATED', http: 401, grpc: 16 },
  PERMISSION_DENIED: { category: 'PERMISSION_DENIED', http: 403, grpc: 7 },
  RATE_LIMITED: { category: 'RESOURCE_EXHAUSTED', http: 429, grpc: 8 },
  HOST_NOT_ALLOWED: { category: 'PERMISSION_DENIED', http: 403, grpc: 7 },
  CROSS_SITE_REQUEST: { category: 'PERMISSION_DENIED', http: 403, grpc: 7 },
  ALREADY_EXISTS: { category: 'ALREADY_EXISTS', http: 409, grpc: 6 },
  MODEL_LOAD_FAILED: { category: 'INVALID_ARGUMENT', http: 400, grpc: 3 },
  MODEL_AMBIGUOUS: { category: 'INVALID_ARGUMENT', http: 400, grpc: 3 },
  GRAPH_NO_ROUTE: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  REMOTE_STEP_FAILED: { category: 'UNAVAILABLE', http: 503, grpc: 14 },
  HANDLER_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  RUN_CONFLICT: { category: 'ALREADY_EXISTS', http: 409, grpc: 6 },
  TABLE_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  PREDICTION_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  DATABASE_UNAVAILABLE: { category: 'UNAVAILABLE', http: 503, grpc: 14 },
  FEEDBACK_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  ROLLOUT_CONFLICT: { category: 'ALREADY_EXISTS', http: 409, grpc: 6 },
  ROLLOUT_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  NOT_IMPLEMENTED: { category: 'UNIMPLEMENTED', http: 501, grpc: 12 },
  OPTIMIZE_UNSUPPORTED: { category: 'UNIMPLEMENTED', http: 501, grpc: 12 },
  REPORT_NOT_FOUND: { category: 'NOT_FOUND', http: 404, grpc: 5 },
  INFERENCE_FAILED: { category: 'INTERNAL', http: 500, grpc: 13 },
  HANDLER_FAILED: { category: 'INTERNAL', http: 500, grpc: 13 },
  INTERNAL: { category: 'INTERNAL', http: 500, grpc: 13 },
};

const ALL_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

describe('error registry', () => {
  test('the registry and the expected table list the same codes', () => {
    assert.deepEqual([...ALL_CODES].sort(), Object.keys(EXPECTED).sort());
  });

  for (const code of ALL_CODES) {
    test(`${code} → category ${EXPECTED[code].category}, HTTP ${EXPECTED[code].http}, gRPC ${EXPECTED[code].grpc}`, () => {
      const category = categoryOf(code);
      assert.equal(category, EXPECTED[code].category);
      assert.equal(httpStatusOf(category), EXPECTED[code].http);
      assert.equal(grpcStatusOf(category), EXPECTED[code].grpc);
    });
  }

  test('every category in the HTTP and gRPC tables has a status, and the two tables list the same categories', () => {
    assert.deepEqual(Object.keys(HTTP_STATUS_BY_CATEGORY).sort(), Object.keys(GRPC_STATUS_BY_CATEGORY).sort());
    for (const category of new Set(Object.values(ERROR_CODES))) {
      assert.ok(Number.isInteger(HTTP_STATUS_BY_CATEGORY[category]), `HTTP status for ${category}`);
      assert.ok(Number.isInteger(GRPC_STATUS_BY_CATEGORY[category]), `gRPC status for ${category}`);
    }
  });

  test('every HTTP status is a client or server error and every gRPC status is a non-OK code (1..16)', () => {
    for (const [category, status] of Object.entries(HTTP_STATUS_BY_CATEGORY)) {
      assert.ok(status >= 400 && status <= 599, `${category}: HTTP ${status}`);
    }
    for (const [category, status] of Object.entries(GRPC_STATUS_BY_CATEGORY)) {
      assert.ok(status >= 1 && status <= 16, `${category}: gRPC ${status}`);
    }
  });

  test('the category table matches DESIGN.md exactly', () => {
    assert.deepEqual(
      { ...HTTP_STATUS_BY_CATEGORY },
      {
        INVALID_ARGUMENT: 400,
        UNAUTHENTICATED: 401,
        PERMISSION_DENIED: 403,
        NOT_FOUND: 404,
        ALREADY_EXISTS: 409,
        PAYLOAD_TOO_LARGE: 413,
        UNSUPPORTED_MEDIA_TYPE: 415,
        RESOURCE_EXHAUSTED: 429,
        INTERNAL: 500,
        UNIMPLEMENTED: 501,
        UNAVAILABLE: 503,
        DEADLINE_EXCEEDED: 504,
      },
    );
    assert.deepEqual(
      { ...GRPC_STATUS_BY_CATEGORY },
      {
        INVALID_ARGUMENT: 3,
        NOT_FOUND: 5,
        ALREADY_EXISTS: 6,
        PERMISSION_DENIED: 7,
        RESOURCE_EXHAUSTED: 8,
        PAYLOAD_TOO_LARGE: 8,
        UNSUPPORTED_MEDIA_TYPE: 3,
        UNAUTHENTICATED: 16,
        UNAVAILABLE: 14,
        DEADLINE_EXCEEDED: 4,
        UNIMPLEMENTED: 12,
        INTERNAL: 13,
      },
    );
  });
});

describe('ServingError', () => {
  test('carries its code, its category, its message and the name ServingError', () => {
    const error = new ServingError('QUEUE_FULL', "model 'digits': queue is full (64 requests)");
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'ServingError');
    assert.equal(error.code, 'QUEUE_FULL');
    assert.equal(error.category, 'RESOURCE_EXHAUSTED');
    assert.equal(error.message, "model 'digits': queue is full (64 requests)");
    assert.equal(error.cause, undefined);
  });

  test('every code builds an error whose category is the registry one', () => {
    for (const code of ALL_CODES) {
      const error = new ServingError(code, `message for ${code}`);
      assert.equal(error.code, code);
      assert.equal(error.category, EXPECTED[code].category);
    }
  });

  test('keeps a cause when given one', () => {
    const cause = new RangeError('boom');
    const error = new ServingError('INFERENCE_FAILED', 'engine failed', { cause });
    assert.equal(error.cause, cause);
    assert.equal(error.category, 'INTERNAL');
  });

  test('isServingError tells ServingErrors from everything else', () => {
    assert.equal(isServingError(new ServingError('INTERNAL', 'x')), true);
    assert.equal(isServingError(new Error('x')), false);
    assert.equal(isServingError({ code: 'INTERNAL', category: 'INTERNAL', message: 'x' }), false);
    assert.equal(isServingError(undefined), false);
  });
});

describe('toServingError', () => {
  test('returns a ServingError unchanged (same object)', () => {
    const error = new ServingError('MODEL_NOT_FOUND', "model 'nope' is not in the repository");
    assert.equal(toServingError(error), error);
  });

  test('hides an unknown Error behind INTERNAL with a generic message and keeps it as the cause', () => {
    const secret = new TypeError('cannot read properties of undefined (reading "secret/path")');
    const error = toServingError(secret);
    assert.ok(error instanceof ServingError);
    assert.equal(error.code, 'INTERNAL');
    assert.equal(error.category, 'INTERNAL');
    assert.equal(error.message, 'internal server error');
    assert.doesNotMatch(error.message, /secret/);
    assert.equal(error.cause, secret);
  });

  test('hides thrown non-Error values too, keeping them as the cause', () => {
    for (const thrown of ['a string', 42, null, undefined, { code: 'MODEL_NOT_FOUND' }]) {
      const error = toServingError(thrown);
      assert.equal(error.code, 'INTERNAL');
      assert.equal(error.message, 'internal server error');
      assert.equal(error.cause, thrown);
    }
  });
});
