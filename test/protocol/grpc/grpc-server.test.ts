import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { Metadata, credentials, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadServices } from '../../../src/protocol/grpc/proto.js';
import { tensorDataFromBinary, tensorDataToBinary } from '../../../src/tensor/binary.js';
import { DATATYPES, type Datatype } from '../../../src/tensor/datatypes.js';
import { fromHalfBits } from '../../../src/tensor/fp16.js';
import { EXAMPLES, TEST_MODELS } from '../../helpers/paths.js';
import { startProtocolServer, type ProtocolServer } from '../../helpers/protocol-server.js';
import { SAMPLES } from '../../helpers/samples.js';

interface Sample {
  label: number;
  image: number[][][];
}
const samples = JSON.parse(await readFile(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Sample[];

let server: ProtocolServer;
let client: Client;
let health: Client;

before(async () => {
  server = await startProtocolServer({ models: [EXAMPLES, TEST_MODELS] });
  // A plain grpc-js client from the .proto: what any OIP gRPC client sends.
  const { inference, health: healthService } = loadServices();
  client = new inference(server.grpcAddress, credentials.createInsecure());
  health = new healthService(server.grpcAddress, credentials.createInsecure());
});
after(async () => {
  client.close();
  health.close();
  await server.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- replies are checked field by field
type Reply = any;

function call(method: string, request: object, on: Client = client, metadata = new Metadata()): Promise<Reply> {
  return new Promise((resolve, reject) => {
    (on as unknown as Record<string, (r: object, m: Metadata, cb: (e: ServiceError | null, v: Reply) => void) => void>)[method]!(request, metadata, (error, value) =>
      error ? reject(error) : resolve(value),
    );
  });
}

async function callError(method: string, request: object, metadata?: Metadata): Promise<ServiceError> {
  try {
    await call(method, request, client, metadata);
  } catch (error) {
    return error as ServiceError;
  }
  assert.fail(`${method} succeeded`);
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

async function assertStillServes(): Promise<void> {
  const sample = samples[5]!;
  const reply = await call('ModelInfer', {
    model_name: 'digits',
    inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], contents: { fp32_contents: sample.image.flat(2) } }],
  });
  assert.equal(argmax(reply.outputs[0].contents.fp32_contents), sample.label);
}

/** Typed contents for a sample, in the field the spec assigns to its datatype. */
function typedContents(datatype: Datatype): object {
  const data = SAMPLES[datatype];
  switch (datatype) {
    case 'BOOL':
      return { bool_contents: Array.from(data as Uint8Array, (v) => v === 1) };
    case 'INT8':
    case 'INT16':
    case 'INT32':
      return { int_contents: Array.from(data as Int32Array) };
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
      return { uint_contents: Array.from(data as Uint32Array) };
    case 'INT64':
      return { int64_contents: Array.from(data as BigInt64Array, String) };
    case 'UINT64':
      return { uint64_contents: Array.from(data as BigUint64Array, String) };
    case 'FP32':
      return { fp32_contents: Array.from(data as Float32Array) };
    case 'FP64':
      return { fp64_contents: Array.from(data as Float64Array) };
    case 'BYTES':
      return { bytes_contents: (data as string[]).map((s) => Buffer.from(s, 'utf8')) };
    case 'FP16':
      throw new Error('FP16 has no typed contents');
  }
}

describe('OIP gRPC: server and model rpcs', () => {
  test('ServerLive, ServerReady', async () => {
    assert.deepEqual(await call('ServerLive', {}), { live: true });
    assert.deepEqual(await call('ServerReady', {}), { ready: true });
  });

  test('ServerMetadata names the server and the same extensions as REST', async () => {
    const reply = await call('ServerMetadata', {});
    const rest = (await (await fetch(`${server.url}/v2`)).json()) as { extensions: string[]; version: string };
    assert.equal(reply.name, 'slipway');
    assert.equal(reply.version, rest.version);
    assert.deepEqual(reply.extensions, rest.extensions);
  });

  test('ModelReady, ModelMetadata (shapes as int64) agree with REST', async () => {
    assert.deepEqual(await call('ModelReady', { name: 'digits' }), { ready: true });
    assert.deepEqual(await call('ModelReady', { name: 'digits', version: '1' }), { ready: true });
    const reply = await call('ModelMetadata', { name: 'digits' });
    const rest = (await (await fetch(`${server.url}/v2/models/digits`)).json()) as object;
    const asNumbers = (tensors: Array<{ shape: string[] }>) => tensors.map((t) => ({ ...t, shape: t.shape.map(Number) }));
    assert.deepEqual({ ...reply, inputs: asNumbers(reply.inputs), outputs: asNumbers(reply.outputs) }, rest);
  });

  test('unknown model and version: NOT_FOUND with the message; empty name: INVALID_ARGUMENT', async () => {
    const unknown = await callError('ModelMetadata', { name: 'nope' });
    assert.equal(unknown.code, status.NOT_FOUND);
    assert.match(unknown.details, /unknown model 'nope'/);
    assert.equal(unknown.metadata.get('slipway-code')[0], 'MODEL_NOT_FOUND');
    assert.equal((await callError('ModelReady', { name: 'digits', version: '9' })).code, status.NOT_FOUND);
    assert.equal((await callError('ModelMetadata', {})).code, status.INVALID_ARGUMENT);
  });

  test('RepositoryIndex lists every model, ready ones with ready: true', async () => {
    const reply = await call('RepositoryIndex', {});
    const names = reply.models.map((m: { name: string }) => m.name);
    assert.ok(names.includes('digits') && names.includes('simple'));
    assert.ok(reply.models.every((m: { state: string }) => m.state === 'READY'));
    assert.equal((await call('RepositoryIndex', { ready: true })).models.length, reply.models.length);
  });
});

describe('OIP gRPC: ModelInfer for every datatype', () => {
  for (const datatype of DATATYPES.filter((d) => d !== 'FP16')) {
    test(`${datatype} typed contents in, typed contents out`, async () => {
      const reply = await call('ModelInfer', {
        model_name: `identity_${datatype.toLowerCase()}`,
        id: 'typed',
        inputs: [{ name: 'INPUT0', datatype, shape: [2, 3], contents: typedContents(datatype) }],
      });
      assert.equal(reply.id, 'typed');
      assert.equal(reply.raw_output_contents.length, 0);
      const out = reply.outputs[0];
      assert.deepEqual([out.name, out.datatype, out.shape.map(Number)], ['OUTPUT0', datatype, [2, 3]]);
      // Compared as JSON so Buffers (BYTES) and decimal strings (64-bit) compare by value.
      const expected = typedContents(datatype) as Record<string, unknown>;
      const field = Object.keys(expected)[0]!;
      assert.equal(JSON.stringify(out.contents[field]), JSON.stringify(expected[field]));
    });
  }

  for (const datatype of DATATYPES) {
    test(`${datatype} raw_input_contents in, raw_output_contents out, exact`, async () => {
      const raw = tensorDataToBinary(datatype, SAMPLES[datatype]);
      const reply = await call('ModelInfer', {
        model_name: `identity_${datatype.toLowerCase()}`,
        inputs: [{ name: 'INPUT0', datatype, shape: [2, 3] }],
        raw_input_contents: [Buffer.from(raw)],
      });
      assert.equal(reply.raw_output_contents.length, 1);
      const back = tensorDataFromBinary(datatype, [2, 3], reply.raw_output_contents[0], 'output');
      assert.deepEqual(Array.from(back as ArrayLike<unknown>), Array.from(SAMPLES[datatype] as ArrayLike<unknown>));
    });
  }

  test('FP16 in typed contents is refused: it travels raw only', async () => {
    const error = await callError('ModelInfer', {
      model_name: 'identity_fp16',
      inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 1], contents: { fp32_contents: [1] } }],
    });
    assert.equal(error.code, status.INVALID_ARGUMENT);
    assert.match(error.details, /FP16 has no typed contents field; send its data in raw_input_contents/);
  });

  test('digits over gRPC gives the same probabilities as REST JSON', async () => {
    const sample = samples[1]!;
    const rest = (await (
      await fetch(`${server.url}/v2/models/digits/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: sample.image }] }) })
    ).json()) as { outputs: Array<{ data: number[] }> };
    const typed = await call('ModelInfer', { model_name: 'digits', inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], contents: { fp32_contents: sample.image.flat(2) } }] });
    assert.deepEqual(typed.outputs[0].contents.fp32_contents, rest.outputs[0]!.data);
    const raw = await call('ModelInfer', {
      model_name: 'digits',
      model_version: '1',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8] }],
      raw_input_contents: [Buffer.from(Float32Array.from(sample.image.flat(2)).buffer)],
    });
    assert.deepEqual([...(tensorDataFromBinary('FP32', [1, 10], raw.raw_output_contents[0], 'o') as Float32Array)], rest.outputs[0]!.data);
  });

  test('requested outputs and parameters of every kind (bool, int64, string, double, uint64)', async () => {
    const reply = await call('ModelInfer', {
      model_name: 'simple',
      parameters: { flag: { bool_param: true }, n: { int64_param: '5' }, s: { string_param: 'x' }, d: { double_param: 0.5 }, u: { uint64_param: '7' } },
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array.from({ length: 16 }, (_, i) => i) } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: Array(16).fill(2) } },
      ],
      outputs: [{ name: 'OUTPUT1' }],
    });
    assert.equal(reply.outputs.length, 1);
    assert.equal(reply.outputs[0].name, 'OUTPUT1');
    assert.deepEqual(reply.outputs[0].contents.int_contents, Array.from({ length: 16 }, (_, i) => i - 2));
  });

  test('FP16 raw values survive exactly (half bits)', async () => {
    const bits = Uint16Array.of(0x3c00, 0xc000, 0x7bff);
    const reply = await call('ModelInfer', { model_name: 'identity_fp16', inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 3] }], raw_input_contents: [Buffer.from(bits.buffer)] });
    const back = tensorDataFromBinary('FP16', [1, 3], reply.raw_output_contents[0], 'o') as Uint16Array;
    assert.deepEqual([...back].map(fromHalfBits), [1, -2, 65504]);
  });
});

describe('OIP gRPC: bad input is a clear status, never a crash', () => {
  const image = { name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8] };
  const cases: Array<{ name: string; request: object; code: number; details: RegExp }> = [
    { name: 'raw contents of the wrong size', request: { model_name: 'digits', inputs: [image], raw_input_contents: [Buffer.alloc(200)] }, code: status.INVALID_ARGUMENT, details: /input 'image': shape \[1,1,8,8\] of FP32 needs 256 bytes \(64 × 4\) but 200 were given/ },
    { name: 'fewer raw contents than inputs', request: { model_name: 'simple', inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] }], raw_input_contents: [Buffer.alloc(64)] }, code: status.INVALID_ARGUMENT, details: /raw_input_contents has 1 entries but there are 2 inputs/ },
    { name: 'typed and raw contents mixed', request: { model_name: 'digits', inputs: [{ ...image, contents: { fp32_contents: [1] } }], raw_input_contents: [Buffer.alloc(256)] }, code: status.INVALID_ARGUMENT, details: /has typed contents, but raw_input_contents is used/ },
    { name: 'typed contents of the wrong count', request: { model_name: 'digits', inputs: [{ ...image, contents: { fp32_contents: [1, 2, 3] } }] }, code: status.INVALID_ARGUMENT, details: /shape \[1,1,8,8\] has 64 elements but contents.fp32_contents has 3/ },
    { name: 'contents in the wrong field', request: { model_name: 'digits', inputs: [{ ...image, contents: { int_contents: Array(64).fill(1) } }] }, code: status.INVALID_ARGUMENT, details: /a FP32 tensor's data goes in contents.fp32_contents, but contents.int_contents was given/ },
    { name: 'INT8 value out of range in int_contents', request: { model_name: 'identity_int8', inputs: [{ name: 'INPUT0', datatype: 'INT8', shape: [1, 1], contents: { int_contents: [300] } }] }, code: status.INVALID_ARGUMENT, details: /element 0 is 300, expected an integer in \[-128, 127\] for INT8/ },
    { name: 'invalid UTF-8 in bytes_contents', request: { model_name: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], contents: { bytes_contents: [Buffer.from([0xff, 0xfe])] } }] }, code: status.INVALID_ARGUMENT, details: /BYTES element 0 is not valid UTF-8/ },
    { name: 'unknown datatype', request: { model_name: 'digits', inputs: [{ ...image, datatype: 'FP8' }] }, code: status.INVALID_ARGUMENT, details: /unknown datatype "FP8"/ },
    { name: 'wrong datatype for the model', request: { model_name: 'digits', inputs: [{ ...image, datatype: 'FP64', contents: { fp64_contents: Array(64).fill(0) } }] }, code: status.INVALID_ARGUMENT, details: /expected datatype FP32, got FP64/ },
    { name: 'no inputs', request: { model_name: 'digits' }, code: status.INVALID_ARGUMENT, details: /'inputs' must hold at least one tensor/ },
    { name: 'unknown model', request: { model_name: 'nope', inputs: [{ ...image, contents: { fp32_contents: Array(64).fill(0) } }] }, code: status.NOT_FOUND, details: /unknown model 'nope'/ },
    { name: 'a parameter with no value', request: { model_name: 'digits', parameters: { p: {} }, inputs: [{ ...image, contents: { fp32_contents: Array(64).fill(0) } }] }, code: status.INVALID_ARGUMENT, details: /parameter 'p' has no value/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const error = await callError('ModelInfer', c.request);
      assert.equal(error.code, c.code, error.details);
      assert.match(error.details, c.details);
      await assertStillServes();
    });
  }

  test('a message over the size limit is RESOURCE_EXHAUSTED and the server goes on', async () => {
    const small = await startProtocolServer({ models: `${TEST_MODELS}/identity_fp32`, bodyLimitBytes: 4096 });
    const { inference } = loadServices();
    const c = new inference(small.grpcAddress, credentials.createInsecure());
    try {
      const request = { model_name: 'identity_fp32', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2048] }], raw_input_contents: [Buffer.alloc(8192)] };
      const error = await call('ModelInfer', request, c).then(() => assert.fail('accepted'), (e: ServiceError) => e);
      assert.equal(error.code, status.RESOURCE_EXHAUSTED);
      const ok = await call('ModelInfer', { ...request, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.alloc(16)] }, c);
      assert.equal(ok.raw_output_contents[0].length, 16);
    } finally {
      c.close();
      await small.close();
    }
  });
});

describe('grpc.health.v1.Health', () => {
  test('Check: the server, the inference service and a model are SERVING', async () => {
    assert.deepEqual(await call('Check', {}, health), { status: 'SERVING' });
    assert.deepEqual(await call('Check', { service: 'inference.GRPCInferenceService' }, health), { status: 'SERVING' });
    assert.deepEqual(await call('Check', { service: 'digits' }, health), { status: 'SERVING' });
  });

  test('Check: an unknown service is NOT_FOUND', async () => {
    const error = await call('Check', { service: 'nope' }, health).then(() => assert.fail('found'), (e: ServiceError) => e);
    assert.equal(error.code, status.NOT_FOUND);
  });

  test('Watch streams the current status', async () => {
    const stream = (health as unknown as { Watch: (r: object) => NodeJS.ReadableStream & { cancel: () => void } }).Watch({ service: '' });
    const first = await new Promise<{ status: string }>((resolve, reject) => {
      stream.once('data', resolve);
      stream.once('error', reject);
    });
    assert.equal(first.status, 'SERVING');
    stream.on('error', () => undefined); // the cancel below ends the stream with CANCELLED
    stream.cancel();
  });
});
