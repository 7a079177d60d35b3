import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { EXAMPLES, TEST_MODELS } from '../../helpers/paths.js';
import { tempRepository } from '../../helpers/temp-repository.js';
import { get, post, startTestServer, type TestServer } from '../../helpers/test-server.js';

interface Sample {
  label: number;
  image: number[][][];
}

const samples = JSON.parse(await readFile(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Sample[];

function digitsRequest(sample: Sample): object {
  return { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: sample.image }] };
}

function argmax(values: number[]): number {
  return values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);
}

let server: TestServer;

before(async () => {
  server = await startTestServer({ models: [EXAMPLES, TEST_MODELS] });
});
after(async () => {
  await server.close();
});

/** The server must still answer correctly after whatever the previous step threw at it. */
async function assertStillServes(): Promise<void> {
  const sample = samples[7]!;
  const reply = await post(`${server.url}/v2/models/digits/infer`, digitsRequest(sample));
  assert.equal(reply.status, 200);
  assert.equal(argmax(reply.body.outputs[0].data), sample.label);
}

describe('health and server metadata', () => {
  test('GET /v2/health/live and /v2/health/ready', async () => {
    assert.deepEqual((await get(`${server.url}/v2/health/live`)).body, { live: true });
    const ready = await get(`${server.url}/v2/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true });
  });

  test('GET /v2 names the server, its version and extensions', async () => {
    const reply = await get(`${server.url}/v2`);
    assert.equal(reply.status, 200);
    assert.equal(reply.body.name, 'slipway');
    assert.match(reply.body.version, /^\d+\.\d+\.\d+/);
    assert.ok(Array.isArray(reply.body.extensions));
  });

  test('unknown routes answer 404 in OIP error form', async () => {
    const reply = await get(`${server.url}/v2/nothing/here`);
    assert.equal(reply.status, 404);
    assert.match(reply.body.error, /no route for GET \/v2\/nothing\/here/);
  });
});

describe('model metadata, readiness, config and repository index for every example model', () => {
  test('every example model is READY in the repository index', async () => {
    const reply = await post(`${server.url}/v2/repository/index`, {});
    assert.equal(reply.status, 200);
    const names = (reply.body as Array<{ name: string; version: string; state: string; reason: string }>).map((r) => r.name);
    for (const name of ['digits', 'ocr_det', 'ocr_cls', 'ocr_rec', 'simple', 'identity_fp16', 'fixed_matmul', 'dynamic_named', 'unnamed_dims']) {
      assert.ok(names.includes(name), `${name} missing from index`);
    }
    for (const row of reply.body) {
      // Pipelines (a handler with no graph, like ocr) have no version of their own.
      if (row.version === undefined) assert.deepEqual(row, { name: row.name, state: 'READY', reason: '' });
      else assert.deepEqual(row, { name: row.name, version: '1', state: 'READY', reason: '' });
    }
    assert.ok(reply.body.some((r: { name: string; version?: string }) => r.name === 'ocr' && r.version === undefined));
    const readyOnly = await post(`${server.url}/v2/repository/index`, { ready: true });
    assert.equal(readyOnly.body.length, reply.body.length);
  });

  test('metadata, versioned metadata, ready and config answer for every model', async () => {
    const index = (await post(`${server.url}/v2/repository/index`, {})).body as Array<{ name: string; version?: string }>;
    for (const { name } of index.filter((r) => r.version !== undefined)) {
      const meta = await get(`${server.url}/v2/models/${name}`);
      assert.equal(meta.status, 200, name);
      assert.equal(meta.body.name, name);
      assert.deepEqual(meta.body.versions, ['1']);
      // The examples' graphs (digits_ensemble, digits_router, digits_top3) are models too, with a graph
      // platform, and so is the tensor handler digits_topk.
      const graphs: Record<string, string> = { digits_ensemble: 'ensemble', digits_router: 'inference_graph', digits_top3: 'ensemble', digits_topk: 'handler' };
      assert.equal(meta.body.platform, graphs[name] ?? 'onnxruntime_onnx', name);
      for (const t of [...meta.body.inputs, ...meta.body.outputs]) {
        assert.equal(typeof t.name, 'string');
        assert.match(t.datatype, /^(BOOL|U?INT(8|16|32|64)|FP(16|32|64)|BYTES)$/);
        assert.ok(t.shape.every((d: number) => Number.isInteger(d) && d >= -1), `${name}.${t.name} shape`);
      }
      assert.deepEqual((await get(`${server.url}/v2/models/${name}/versions/1`)).body, meta.body);
      assert.deepEqual((await get(`${server.url}/v2/models/${name}/ready`)).body, { name, ready: true });
      assert.deepEqual((await get(`${server.url}/v2/models/${name}/versions/1/ready`)).body, { name, ready: true });
      const config = await get(`${server.url}/v2/models/${name}/config`);
      assert.equal(config.status, 200);
      assert.equal(config.body.name, name);
    }
  });

  test('digits metadata is autocompleted from the graph with a batch dimension', async () => {
    const meta = await get(`${server.url}/v2/models/digits`);
    assert.deepEqual(meta.body.inputs, [{ name: 'image', datatype: 'FP32', shape: [-1, 1, 8, 8] }]);
    assert.deepEqual(meta.body.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }]);
    const config = await get(`${server.url}/v2/models/digits/config`);
    assert.equal(config.body.max_batch_size, 64);
    assert.deepEqual(config.body.input, [{ name: 'image', data_type: 'TYPE_FP32', dims: [1, 8, 8] }]);
  });

  test('a model without a batch dimension keeps its fixed shape and max_batch_size 0', async () => {
    const meta = await get(`${server.url}/v2/models/fixed_matmul`);
    assert.deepEqual(meta.body.inputs, [{ name: 'x', datatype: 'FP32', shape: [2, 3] }]);
    assert.equal((await get(`${server.url}/v2/models/fixed_matmul/config`)).body.max_batch_size, 0);
  });

  test('symbolic and unnamed dimensions become -1', async () => {
    assert.deepEqual((await get(`${server.url}/v2/models/dynamic_named`)).body.inputs[0].shape, [-1, -1]);
    assert.deepEqual((await get(`${server.url}/v2/models/unnamed_dims`)).body.inputs[0].shape, [-1, 4]);
  });
});

describe('inference', () => {
  test('digits classifies every held-out sample, echoes the id and reports timing', async () => {
    for (const sample of samples) {
      const reply = await post(`${server.url}/v2/models/digits/infer`, { id: `s${sample.label}`, ...digitsRequest(sample) });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.id, `s${sample.label}`);
      assert.equal(reply.body.model_name, 'digits');
      assert.equal(reply.body.model_version, '1');
      const [output] = reply.body.outputs;
      assert.deepEqual([output.name, output.datatype, output.shape], ['probabilities', 'FP32', [1, 10]]);
      assert.equal(argmax(output.data), sample.label);
      assert.match(reply.headers.get('server-timing') ?? '', /queue;dur=[\d.]+, compute;dur=[\d.]+/);
    }
  });

  test('a batch of 10 in one request gives the same answers as 10 requests', async () => {
    const data = samples.flatMap((s) => s.image.flat(2));
    const reply = await post(`${server.url}/v2/models/digits/versions/1/infer`, {
      inputs: [{ name: 'image', datatype: 'FP32', shape: [10, 1, 8, 8], data }],
      parameters: { note: 'parameters are accepted', flag: true, n: 3 },
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.outputs[0].shape, [10, 10]);
    const rows: number[][] = [];
    for (let i = 0; i < 10; i++) rows.push(reply.body.outputs[0].data.slice(i * 10, i * 10 + 10));
    assert.deepEqual(rows.map(argmax), samples.map((s) => s.label));
  });

  test('requested outputs return only that subset, in the order asked', async () => {
    const a = Array.from({ length: 16 }, (_, i) => i);
    const b = Array.from({ length: 16 }, () => 1);
    const body = {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: [a] },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
      ],
    };
    const one = await post(`${server.url}/v2/models/simple/infer`, { ...body, outputs: [{ name: 'OUTPUT1' }] });
    assert.deepEqual(one.body.outputs.map((o: { name: string }) => o.name), ['OUTPUT1']);
    assert.deepEqual(one.body.outputs[0].data, a.map((x) => x - 1));
    const both = await post(`${server.url}/v2/models/simple/infer`, { ...body, outputs: [{ name: 'OUTPUT1' }, { name: 'OUTPUT0' }] });
    assert.deepEqual(both.body.outputs.map((o: { name: string }) => o.name), ['OUTPUT1', 'OUTPUT0']);
    assert.deepEqual(both.body.outputs[1].data, a.map((x) => x + 1));
    const all = await post(`${server.url}/v2/models/simple/infer`, body);
    assert.deepEqual(all.body.outputs.map((o: { name: string }) => o.name), ['OUTPUT0', 'OUTPUT1']);
  });

  test('a model without a batch dimension runs with its fixed shape', async () => {
    const reply = await post(`${server.url}/v2/models/fixed_matmul/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: [[1, 0, 0], [0, 0, 1]] }],
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.outputs[0], { name: 'y', datatype: 'FP32', shape: [2, 4], data: [0, 1, 2, 3, 8, 9, 10, 11] });
  });

  test('dynamic dimensions accept any size', async () => {
    for (const seq of [1, 7]) {
      const data = Array.from({ length: 2 * seq }, (_, i) => i - 3);
      const reply = await post(`${server.url}/v2/models/dynamic_named/infer`, {
        inputs: [{ name: 'tokens', datatype: 'INT64', shape: [2, seq], data }],
      });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body.outputs[0].shape, [2, seq]);
      assert.deepEqual(reply.body.outputs[0].data, data.map((x) => x * 2));
    }
  });

  const ROUND_TRIPS: Array<[string, string, unknown[], unknown[]?]> = [
    ['identity_bool', 'BOOL', [true, false, false, true]],
    ['identity_uint8', 'UINT8', [0, 1, 254, 255]],
    ['identity_uint16', 'UINT16', [0, 1, 65534, 65535]],
    ['identity_uint32', 'UINT32', [0, 1, 4294967294, 4294967295]],
    ['identity_uint64', 'UINT64', [0, 1, 2 ** 40, Number.MAX_SAFE_INTEGER]],
    ['identity_int8', 'INT8', [-128, -1, 0, 127]],
    ['identity_int16', 'INT16', [-32768, -1, 0, 32767]],
    ['identity_int32', 'INT32', [-2147483648, -1, 0, 2147483647]],
    ['identity_int64', 'INT64', [-Number.MAX_SAFE_INTEGER, -1, 0, Number.MAX_SAFE_INTEGER]],
    ['identity_fp16', 'FP16', [0.1, -2.5, 65504, 6e-8], [0.0999755859375, -2.5, 65504, 5.960464477539063e-8]],
    ['identity_fp32', 'FP32', [0.1, -2.5, 3.4e38, 1e-45], [Math.fround(0.1), -2.5, Math.fround(3.4e38), Math.fround(1e-45)]],
    ['identity_fp64', 'FP64', [0.1, -2.5, 1.7976931348623157e308, 5e-324]],
    ['identity_bytes', 'BYTES', ['hello', '', 'héllo wörld ✓', '{"json": true}']],
  ];
  for (const [model, datatype, data, expected] of ROUND_TRIPS) {
    test(`${datatype} round-trips through ${model}`, async () => {
      const reply = await post(`${server.url}/v2/models/${model}/infer`, {
        inputs: [{ name: 'INPUT0', datatype, shape: [2, 2], data: [data.slice(0, 2), data.slice(2)] }],
      });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(reply.body.outputs[0], { name: 'OUTPUT0', datatype, shape: [2, 2], data: expected ?? data });
    });
  }

  test('outputs equal direct onnxruntime-node outputs: digits', async () => {
    const session = await ort.InferenceSession.create(`${EXAMPLES}/digits/1/model.onnx`);
    const data = Float32Array.from(samples.flatMap((s) => s.image.flat(2)));
    const direct = await session.run({ image: new ort.Tensor('float32', data, [10, 1, 8, 8]) });
    const reply = await post(`${server.url}/v2/models/digits/infer`, {
      inputs: [{ name: 'image', datatype: 'FP32', shape: [10, 1, 8, 8], data: Array.from(data) }],
    });
    assertClose(reply.body.outputs[0].data, direct.probabilities!.data as Float32Array, 1e-6);
    await session.release();
  });

  test('outputs equal direct onnxruntime-node outputs: PaddleOCR recognition', async () => {
    const session = await ort.InferenceSession.create(`${EXAMPLES}/ocr_rec/1/model.onnx`);
    const shape = [2, 3, 48, 160];
    let seed = 42;
    const data = Float32Array.from({ length: 2 * 3 * 48 * 160 }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 30 - 1;
    });
    const direct = await session.run({ x: new ort.Tensor('float32', data, shape) });
    const expected = Object.values(direct)[0]!;
    const reply = await post(`${server.url}/v2/models/ocr_rec/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape, data: Array.from(data) }],
    });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.outputs[0].shape, expected.dims);
    assertClose(reply.body.outputs[0].data, expected.data as Float32Array, 1e-5);
    await session.release();
  });

  test('a real-size image tensor sent as JSON fits the default body limit', async () => {
    const shape = [1, 3, 640, 640];
    const data = Array.from({ length: 3 * 640 * 640 }, (_, i) => ((i * 7919) % 1000) / 999 - 0.5);
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape, data }] });
    assert.ok(body.length > 10 * 1024 * 1024, `body is ${body.length} bytes`);
    const reply = await post(`${server.url}/v2/models/ocr_det/infer`, body);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body.outputs[0].shape, [1, 1, 640, 640]);
  });
});

function assertClose(actual: number[], expected: Float32Array, tolerance: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (diff > tolerance * Math.max(1, Math.abs(expected[i]!))) {
      assert.fail(`element ${i}: server ${actual[i]} vs onnxruntime ${expected[i]}`);
    }
  }
}

describe('bad input never crashes the server and names the problem', () => {
  const image = samples[0]!.image;
  const CASES: Array<{ what: string; path?: string; body: unknown; status: number; error: RegExp }> = [
    { what: 'malformed JSON', body: '{"inputs": [', status: 400, error: /not valid JSON/ },
    { what: 'empty body', body: '', status: 400, error: /body is empty/ },
    { what: 'body not an object', body: '[1,2]', status: 400, error: /JSON object with an "inputs" array/ },
    { what: 'inputs missing', body: {}, status: 400, error: /'inputs' must be a non-empty array/ },
    { what: 'unknown model', path: '/v2/models/nope/infer', body: {}, status: 404, error: /unknown model 'nope'/ },
    { what: 'unknown version', path: '/v2/models/digits/versions/9/infer', body: {}, status: 404, error: /model 'digits' has no version '9'/ },
    { what: 'non-numeric version', path: '/v2/models/digits/versions/latest/infer', body: {}, status: 404, error: /no version 'latest'/ },
    {
      what: 'missing input',
      path: '/v2/models/simple/infer',
      body: { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: new Array(16).fill(1) }] },
      status: 400,
      error: /missing input 'INPUT1' \(INT32 \[-1,16\]\)/,
    },
    {
      what: 'unknown input',
      body: { inputs: [{ name: 'img', datatype: 'FP32', shape: [1, 1, 8, 8], data: image }] },
      status: 400,
      error: /unknown input 'img'; model 'digits' expects 'image' \(FP32 \[-1,1,8,8\]\)/,
    },
    {
      what: 'duplicate input',
      body: { inputs: [0, 1].map(() => ({ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: image })) },
      status: 400,
      error: /input 'image' is given more than once/,
    },
    {
      what: 'wrong datatype',
      body: { inputs: [{ name: 'image', datatype: 'INT64', shape: [1, 1, 8, 8], data: image }] },
      status: 400,
      error: /input 'image': expected datatype FP32, got INT64/,
    },
    {
      what: 'unknown datatype',
      body: { inputs: [{ name: 'image', datatype: 'FLOAT', shape: [1, 1, 8, 8], data: image }] },
      status: 400,
      error: /input 'image': unknown datatype "FLOAT"/,
    },
    {
      what: 'BF16 refused until supported',
      body: { inputs: [{ name: 'image', datatype: 'BF16', shape: [1, 1, 8, 8], data: image }] },
      status: 400,
      error: /input 'image': datatype BF16 is not supported yet/,
    },
    {
      what: 'shape product differs from data length',
      body: { inputs: [{ name: 'image', datatype: 'FP32', shape: [2, 1, 8, 8], data: image }] },
      status: 400,
      error: /input 'image': shape \[2,1,8,8\] has 128 elements but 'data' has 64/,
    },
    {
      what: 'shape incompatible with the model',
      body: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 8, 8], data: image }] },
      status: 400,
      error: /input 'image': shape \[1,8,8\] does not match the model's \[-1,1,8,8\]/,
    },
    {
      what: 'batch larger than max_batch_size',
      body: { inputs: [{ name: 'image', datatype: 'FP32', shape: [65, 1, 8, 8], data: new Array(65 * 64).fill(0) }] },
      status: 400,
      error: /input 'image': batch size 65 exceeds the model's max_batch_size 64/,
    },
    {
      what: 'non-numeric value',
      body: { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: [...new Array(63).fill(0), 'x'] }] },
      status: 400,
      error: /input 'image': element 63 is "x", expected a number for FP32/,
    },
    {
      what: 'value out of range for the datatype',
      path: '/v2/models/identity_uint8/infer',
      body: { inputs: [{ name: 'INPUT0', datatype: 'UINT8', shape: [1, 2], data: [1, 300] }] },
      status: 400,
      error: /input 'INPUT0': element 1 is 300, expected an integer in \[0, 255\] for UINT8/,
    },
    {
      what: 'fraction for an integer type',
      path: '/v2/models/identity_int32/infer',
      body: { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 1], data: [1.5] }] },
      status: 400,
      error: /input 'INPUT0': element 0 is 1.5, expected an integer for INT32/,
    },
    {
      what: 'unknown requested output',
      body: { ...digitsRequest(samples[0]!), outputs: [{ name: 'logits' }] },
      status: 400,
      error: /unknown output 'logits'; model 'digits' has outputs 'probabilities'/,
    },
    { what: 'id not a string', body: { id: 5, ...digitsRequest(samples[0]!) }, status: 400, error: /'id' must be a string/ },
  ];
  for (const c of CASES) {
    test(`${c.what} → ${c.status}, then a correct answer`, async () => {
      const reply = await post(`${server.url}${c.path ?? '/v2/models/digits/infer'}`, c.body);
      assert.equal(reply.status, c.status, JSON.stringify(reply.body));
      assert.match(reply.body.error, c.error);
      assert.equal(typeof reply.body.code, 'string');
      await assertStillServes();
    });
  }

  test('unknown model metadata and readiness answer 404', async () => {
    assert.equal((await get(`${server.url}/v2/models/nope`)).status, 404);
    assert.equal((await get(`${server.url}/v2/models/nope/ready`)).status, 404);
    assert.equal((await get(`${server.url}/v2/models/digits/versions/3/ready`)).status, 404);
    await assertStillServes();
  });
});

describe('limits and unavailable models', () => {
  test('a body over the configured limit answers 413, then the server still serves', async () => {
    const small = await startTestServer({ models: `${EXAMPLES}/digits`, bodyLimitBytes: 4096 });
    try {
      const big = { inputs: [{ name: 'image', datatype: 'FP32', shape: [64, 1, 8, 8], data: new Array(64 * 64).fill(0.5) }] };
      const reply = await post(`${small.url}/v2/models/digits/infer`, big);
      assert.equal(reply.status, 413);
      assert.match(reply.body.error, /larger than the server's limit/);
      const ok = await post(`${small.url}/v2/models/digits/infer`, digitsRequest(samples[3]!));
      assert.equal(ok.status, 200);
      assert.equal(argmax(ok.body.outputs[0].data), 3);
    } finally {
      await small.close();
    }
  });

  test('a model that fails to load is UNAVAILABLE with its reason; the others serve', async () => {
    const repo = await tempRepository({ digits: {}, broken: { bytes: 'this is not an onnx file' } });
    const local = await startTestServer({ models: repo.dir });
    try {
      const index = (await post(`${local.url}/v2/repository/index`, {})).body;
      const broken = index.find((r: { name: string }) => r.name === 'broken');
      assert.equal(broken.state, 'UNAVAILABLE');
      assert.match(broken.reason, /\S/);
      const infer = await post(`${local.url}/v2/models/broken/infer`, digitsRequest(samples[0]!));
      assert.equal(infer.status, 503);
      assert.match(infer.body.error, /model 'broken' version 1 is UNAVAILABLE: /);
      const ready = await get(`${local.url}/v2/models/broken/ready`);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.ready, false);
      assert.equal((await get(`${local.url}/v2/models/broken`)).status, 503);
      assert.equal((await get(`${local.url}/v2/health/ready`)).status, 200, 'other models keep the server ready');
      const ok = await post(`${local.url}/v2/models/digits/infer`, digitsRequest(samples[5]!));
      assert.equal(argmax(ok.body.outputs[0].data), 5);
    } finally {
      await local.close();
      await repo.remove();
    }
  });

  test('strict readiness reports not ready while any model is unavailable', async () => {
    const repo = await tempRepository({ digits: {}, broken: { bytes: 'garbage' } });
    const local = await startTestServer({ models: repo.dir, strictReadiness: true });
    try {
      const ready = await get(`${local.url}/v2/health/ready`);
      assert.equal(ready.status, 503);
      assert.match(ready.body.error, /broken is UNAVAILABLE/);
    } finally {
      await local.close();
      await repo.remove();
    }
  });
});
