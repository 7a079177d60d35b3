import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ServingError } from '../../../../src/errors/serving-error.js';
import { JsonCodec } from '../../../../src/protocol/http/codec/json-codec.js';
import { encodeInferResponse } from '../../../../src/protocol/http/oip-json.js';
import type { InferenceResponse } from '../../../../src/tensor/inference.js';

// Thresholds of 0 send everything to the codec thread; huge ones keep everything inline.
const threaded = new JsonCodec({ decodeThresholdBytes: 0, encodeThresholdElements: 0, threads: 2 });
const inline = new JsonCodec({ decodeThresholdBytes: Number.MAX_SAFE_INTEGER, encodeThresholdElements: Number.MAX_SAFE_INTEGER });
after(async () => {
  await threaded.close();
  await inline.close();
});

const body = Buffer.from(
  JSON.stringify({
    id: 'x',
    parameters: { p: 1 },
    inputs: [
      { name: 'a', datatype: 'INT64', shape: [2, 2], data: [[1, -2], [3, 9007199254740991]] },
      { name: 'b', datatype: 'BYTES', shape: [1], data: ['héllo'] },
      { name: 'c', datatype: 'FP16', shape: [2], data: [0.5, -1] },
    ],
    outputs: [{ name: 'o' }],
  }),
);

test('a body decoded on a codec thread equals the same body decoded inline', async () => {
  const a = await threaded.decode(body, 'm', '3');
  const b = await inline.decode(body, 'm', '3');
  assert.deepEqual(a, b);
  assert.ok(a.inputs[0]!.data instanceof BigInt64Array);
  assert.equal(a.transferInputs, true);
  assert.equal(a.version, '3');
});

test('decode errors from a codec thread keep their code and message', async () => {
  const bad = Buffer.from('{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1], "data": [300]}]}');
  await assert.rejects(threaded.decode(bad, 'm'), (error: unknown) => {
    assert.ok(error instanceof ServingError);
    assert.equal(error.code, 'INVALID_INPUT');
    assert.match(error.message, /input 'a': element 0 is 300/);
    return true;
  });
  await assert.rejects(threaded.decode(Buffer.from('{"inputs": ['), 'm'), /not valid JSON/);
  // The thread survives its errors.
  assert.equal((await threaded.decode(body, 'm')).id, 'x');
});

test('a response encoded on a codec thread is byte-identical to the inline encoding', async () => {
  const response = (): InferenceResponse => ({
    model_name: 'm',
    model_version: '1',
    id: 'r',
    outputs: [
      { name: 'f', datatype: 'FP32', shape: [3], data: new Float32Array([0.1, Number.NaN, -3]) },
      { name: 'u', datatype: 'UINT64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
      { name: 's', datatype: 'BYTES', shape: [2], data: ['a"b', '✓'] },
    ],
  });
  const expected = encodeInferResponse(response());
  assert.equal(String(await threaded.encode(response())), expected);
  assert.equal(String(await inline.encode(response())), expected);
  JSON.parse(expected);
});

test('many concurrent large messages all come back to the right caller', async () => {
  const bodies = Array.from({ length: 20 }, (_, i) =>
    Buffer.from(JSON.stringify({ id: String(i), inputs: [{ name: 'x', datatype: 'INT32', shape: [1000], data: new Array(1000).fill(i) }] })),
  );
  const decoded = await Promise.all(bodies.map((b) => threaded.decode(b, 'm')));
  decoded.forEach((request, i) => {
    assert.equal(request.id, String(i));
    assert.equal((request.inputs[0]!.data as Int32Array)[999], i);
  });
});

test("a codec thread's unexpected failure is INTERNAL and keeps the thread's stack as its cause, for the log", async () => {
  // BigInt has no JSON form: JSON.stringify throws a TypeError inside the codec thread.
  const response = {
    model_name: 'm',
    model_version: '1',
    parameters: { big: 1n },
    outputs: [{ name: 'y', datatype: 'FP32', shape: [1], data: new Float32Array(1) }],
  } as unknown as InferenceResponse;
  await assert.rejects(threaded.encode(response), (error: unknown) => {
    assert.ok(error instanceof ServingError);
    assert.equal(error.code, 'INTERNAL');
    const cause = error.cause as Error;
    assert.match(cause.message, /^JSON codec thread: TypeError: .*BigInt/);
    assert.match(cause.message, /codec-worker\.js/);
    return true;
  });
  // Client errors carry no stack: they are not logged as failures.
  await assert.rejects(threaded.decode(Buffer.from('{"inputs": 5}'), 'm'), (error: unknown) => {
    assert.ok(error instanceof ServingError && error.cause === undefined);
    return true;
  });
});

test('a codec thread that parsed an outsized body is replaced once idle; the next body gets a fresh one', async () => {
  const codec = new JsonCodec({ decodeThresholdBytes: 0, threads: 1 });
  const threads = (): Array<{ worker: { threadId: number } }> => (codec as unknown as { workers: Array<{ worker: { threadId: number } }> }).workers;
  try {
    await codec.decode(body, 'm');
    const first = threads()[0]!.worker.threadId;
    // 17 MB of numbers: over the 16 MB a thread may parse before it is retired.
    const count = 4 * 1024 * 1024;
    const big = Buffer.from(`{"inputs":[{"name":"a","datatype":"FP32","shape":[${count}],"data":[${'0.5,'.repeat(count - 1)}0.5]}]}`);
    const decoded = await codec.decode(big, 'm');
    assert.equal(decoded.inputs[0]!.data.length, count);
    assert.equal(threads().length, 0, 'the outsized thread left the pool');
    await codec.decode(body, 'm');
    assert.notEqual(threads()[0]!.worker.threadId, first, 'a fresh thread took the next body');
  } finally {
    await codec.close();
  }
});
