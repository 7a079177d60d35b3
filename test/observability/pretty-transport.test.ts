import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLine } from '../../src/observability/pretty-transport.js';

test('on a terminal a request reads as one access-log line; other events keep their message', () => {
  const request = { msg: 'request', method: 'POST', url: '/api/models/digits/predict', status: 200, latencyMs: 12.5, model: 'digits', version: '1', requestId: 'x' };
  assert.equal(formatLine(request, 'msg'), 'POST /api/models/digits/predict 200 12.5 ms · digits v1');
  assert.equal(formatLine({ msg: 'request', method: 'GET', url: '/v2/models/nope', status: 404, code: 'MODEL_NOT_FOUND', latencyMs: 1 }, 'msg'), 'GET /v2/models/nope 404 MODEL_NOT_FOUND 1 ms');
  assert.equal(formatLine({ msg: 'request', method: 'POST', url: '/v2/models/digits/infer', status: 200, latencyMs: 2, model: 'digits', version: '1', batchSize: 4 }, 'msg'), 'POST /v2/models/digits/infer 200 2 ms · digits v1 batch 4');
  assert.equal(formatLine({ msg: 'loaded digits version 1 in 453 ms', event: 'model_loaded' }, 'msg'), 'loaded digits version 1 in 453 ms');
});
