import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { encodeBytesElements, tensorDataFromBinary, tensorDataToBinary } from '../../../src/tensor/binary.js';
import { DATATYPES } from '../../../src/tensor/datatypes.js';
import { EXAMPLES, TEST_MODELS } from '../../helpers/paths.js';
import { post, startTestServer, type TestServer } from '../../helpers/test-server.js';
import { SAMPLES } from '../../helpers/samples.js';

interface Sample {
  label: number;
  image: number[][][];
}
const samples = JSON.parse(await readFile(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Sample[];

let server: TestServer;
before(async () => {
  server = await startTestServer({ models: [EXAMPLES, TEST_MODELS] });
});
after(async () => {
  await server.close();
});

interface BinaryReply {
  status: number;
  headers: Headers;
  header: { model_name: string; outputs: Array<{ name: string; datatype: string; shape: number[]; parameters?: { binary_data_size?: number }; data?: unknown[] }>; error?: string; code?: string };
  tail: Uint8Array;
}

/** Sends a binary-data request (JSON header + raw tail) and splits the answer the same way. */
async function postBinary(path: string, header: object, tail: Uint8Array[], headerLength?: number): Promise<BinaryReply> {
  const head = Buffer.from(JSON.stringify(header));
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(headerLength ?? head.byteLength), 'content-type': 'application/octet-stream' },
    body: Buffer.concat([head, ...tail]),
  });
  const body = new Uint8Array(await response.arrayBuffer());
  const length = Number(response.headers.get('inference-header-content-length') ?? body.byteLength);
  return { status: response.status, headers: response.headers, header: JSON.parse(Buffer.from(body.subarray(0, length)).toString('utf8')), tail: body.subarray(length) };
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

async function assertStillServes(): Promise<void> {
  const sample = samples[3]!;
  const reply = await post(`${server.url}/v2/models/digits/infer`, { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: sample.image }] });
  assert.equal(reply.status, 200);
  assert.equal(argmax(reply.body.outputs[0].data), sample.label);
}

describe('binary tensor data over HTTP', () => {
  test('GET /v2 advertises binary_tensor_data and model_repository', async () => {
    const body = (await (await fetch(`${server.url}/v2`)).json()) as { extensions: string[] };
    assert.ok(body.extensions.includes('binary_tensor_data'));
    assert.ok(body.extensions.includes('model_repository'));
  });

  for (const datatype of DATATYPES) {
    test(`${datatype}: binary in, binary out, exact`, async () => {
      const raw = tensorDataToBinary(datatype, SAMPLES[datatype]);
      const reply = await postBinary(
        `/v2/models/identity_${datatype.toLowerCase()}/infer`,
        { inputs: [{ name: 'INPUT0', datatype, shape: [2, 3], parameters: { binary_data_size: raw.byteLength } }], outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }] },
        [raw],
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.header));
      assert.equal(reply.headers.get('content-type'), 'application/octet-stream');
      const out = reply.header.outputs[0]!;
      assert.deepEqual({ name: out.name, datatype: out.datatype, shape: out.shape }, { name: 'OUTPUT0', datatype, shape: [2, 3] });
      assert.equal(out.parameters?.binary_data_size, reply.tail.byteLength);
      assert.equal(out.data, undefined);
      const back = tensorDataFromBinary(datatype, [2, 3], reply.tail, 'output');
      assert.deepEqual(Array.from(back as ArrayLike<unknown>), Array.from(SAMPLES[datatype] as ArrayLike<unknown>));
    });
  }

  test('binary in, JSON out when no output asks for binary data', async () => {
    const raw = tensorDataToBinary('INT64', SAMPLES.INT64);
    const head = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [2, 3], parameters: { binary_data_size: raw.byteLength } }] }));
    const response = await fetch(`${server.url}/v2/models/identity_int64/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(head.byteLength) },
      body: Buffer.concat([head, raw]),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('inference-header-content-length'), null);
    const text = await response.text();
    // Exact 64-bit digits in the JSON text (JSON.parse would round them).
    assert.match(text, /"data":\[-9223372036854775808,-1,0,1,9007199254740993,9223372036854775807\]/);
  });

  test('JSON in, binary out with binary_data_output; JSON inputs and binary inputs mix', async () => {
    const a = Int32Array.from({ length: 16 }, (_, i) => i);
    const raw = tensorDataToBinary('INT32', a);
    const reply = await postBinary(
      '/v2/models/simple/infer',
      {
        id: 'mix',
        parameters: { binary_data_output: true },
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: raw.byteLength } },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1) },
        ],
        outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT1', parameters: { binary_data: false } }],
      },
      [raw],
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.header));
    assert.equal((reply.header as { id?: string }).id, 'mix');
    const [sum, difference] = reply.header.outputs;
    assert.equal(sum!.parameters?.binary_data_size, 64);
    assert.deepEqual([...(tensorDataFromBinary('INT32', [1, 16], reply.tail, 'o') as Int32Array)], [...a].map((v) => v + 1));
    assert.deepEqual(difference!.data, [...a].map((v) => v - 1));
  });

  test('digits: a binary FP32 image gives the same probabilities as JSON', async () => {
    const sample = samples[0]!;
    const image = Float32Array.from(sample.image.flat(2));
    const json = await post(`${server.url}/v2/models/digits/infer`, { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: [...image] }] });
    const raw = tensorDataToBinary('FP32', image);
    const binary = await postBinary(
      '/v2/models/digits/infer',
      { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], parameters: { binary_data_size: raw.byteLength } }], parameters: { binary_data_output: true } },
      [raw],
    );
    const probabilities = tensorDataFromBinary('FP32', [1, 10], binary.tail, 'o') as Float32Array;
    assert.deepEqual([...probabilities], json.body.outputs[0].data);
    assert.equal(argmax(probabilities), sample.label);
  });

  test('a misaligned binary input (after an odd-length one) decodes correctly', async () => {
    // BYTES first makes the next tensor start at an odd offset in the body.
    const strings = encodeBytesElements(['abc']);
    assert.equal(strings.byteLength % 4, 3);
    const reply = await postBinary(
      '/v2/models/identity_bytes/infer',
      { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], parameters: { binary_data_size: strings.byteLength } }] },
      [strings],
    );
    assert.deepEqual(reply.header.outputs[0]!.data, ['abc']);
  });

  describe('bad binary input: a clear 400, and the server still answers', () => {
    const raw = tensorDataToBinary('FP32', new Float32Array(64));
    const header = { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], parameters: { binary_data_size: 256 } }] };
    const cases: Array<{ name: string; header: object; tail: Uint8Array[]; headerLength?: number; status: number; error: RegExp }> = [
      { name: 'truncated body', header, tail: [raw.subarray(0, 100)], status: 400, error: /input 'image': binary_data_size is 256 but only 100 bytes of binary data remain/ },
      { name: 'header length larger than the body', header, tail: [raw], headerLength: 10_000, status: 400, error: /Inference-Header-Content-Length is 10000 but the body has only \d+ bytes/ },
      { name: 'header length cutting the JSON', header, tail: [raw], headerLength: 20, status: 400, error: /not valid JSON/ },
      {
        name: 'wrong binary_data_size',
        header: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], parameters: { binary_data_size: 252 } }] },
        tail: [raw.subarray(0, 252)],
        status: 400,
        error: /input 'image': shape \[1,1,8,8\] of FP32 needs 256 bytes \(64 × 4\) but 252 were given/,
      },
      { name: 'extra bytes after the last input', header, tail: [raw, Uint8Array.of(1, 2, 3)], status: 400, error: /3 bytes after the last binary input/ },
      {
        name: 'negative binary_data_size',
        header: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], parameters: { binary_data_size: -4 } }] },
        tail: [raw],
        status: 400,
        error: /binary_data_size must be a non-negative integer/,
      },
      {
        name: 'both data and binary_data_size',
        header: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: [1], parameters: { binary_data_size: 256 } }] },
        tail: [raw],
        status: 400,
        error: /has both 'data' and binary_data_size/,
      },
      {
        name: 'a bad envelope field, named by path',
        header: { inputs: [{ name: 'image', datatype: 'FP32', shape: 'big', parameters: { binary_data_size: 256 } }] },
        tail: [raw],
        status: 400,
        error: /inference header: inputs\.0\.shape/,
      },
      {
        name: 'a non-boolean binary_data',
        header: { ...header, outputs: [{ name: 'probabilities', parameters: { binary_data: 'yes' } }] },
        tail: [raw],
        status: 400,
        error: /output 'probabilities': parameter 'binary_data' must be true or false/,
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const reply = await postBinary('/v2/models/digits/infer', c.header, c.tail, c.headerLength);
        assert.equal(reply.status, c.status);
        assert.match(reply.header.error!, c.error);
        await assertStillServes();
      });
    }

    test('a non-numeric Inference-Header-Content-Length', async () => {
      const response = await fetch(`${server.url}/v2/models/digits/infer`, { method: 'POST', headers: { 'inference-header-content-length': 'abc' }, body: '{}' });
      assert.equal(response.status, 400);
      assert.match(((await response.json()) as { error: string }).error, /must be a non-negative integer, got "abc"/);
      await assertStillServes();
    });
  });
});
