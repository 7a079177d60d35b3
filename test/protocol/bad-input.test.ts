// Issue 18's audit findings on bad input, each over the protocols it was found on: data that was
// silently changed (NUL in BYTES, ragged rows, 1e309), answers that grew with the input, 500s
// where the client was at fault, compressed bodies, and 503s without a retry hint.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { Metadata, credentials, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadServices } from '../../src/protocol/grpc/proto.js';
import { decodeGrpcInferRequest } from '../../src/protocol/grpc/grpc-tensors.js';
import { decodeBinaryInferRequest } from '../../src/protocol/http/binary-tensors.js';
import { decodeInferRequest } from '../../src/protocol/http/oip-json.js';
import { createHttpServer } from '../../src/server/http-server.js';
import { encodeBytesElements } from '../../src/tensor/binary.js';
import { TEST_MODELS } from '../helpers/paths.js';
import { startProtocolServer, type ProtocolServer } from '../helpers/protocol-server.js';

let server: ProtocolServer;
let client: Client;

before(async () => {
  server = await startProtocolServer({ models: [TEST_MODELS] });
  const { inference } = loadServices();
  client = new inference(server.grpcAddress, credentials.createInsecure());
});
after(async () => {
  client.close();
  await server.close();
});

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: { error?: string; code?: string; outputs?: Array<{ data: unknown[] }> };
}

async function send(path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as Answer['body'] };
}

function grpcInfer(request: object): Promise<{ error: ServiceError | null; value: unknown }> {
  return new Promise((resolve) => {
    (client as unknown as Record<string, (r: object, m: Metadata, cb: (e: ServiceError | null, v: unknown) => void) => void>).ModelInfer!(
      request,
      new Metadata(),
      (error, value) => resolve({ error, value }),
    );
  });
}

const NUL_STRINGS = ['ab\u0000cd', 'plain', '\u0000', 'é\u0000ü'];

describe('BYTES elements holding NUL', () => {
  test('every protocol decodes them exactly (nothing is cut at the NUL)', () => {
    const json = decodeInferRequest({ inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], data: NUL_STRINGS }] }, 'm');
    assert.deepEqual(json.inputs[0]!.data, NUL_STRINGS);
    const raw = encodeBytesElements(NUL_STRINGS);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], parameters: { binary_data_size: raw.byteLength } }] }));
    const binary = decodeBinaryInferRequest(Buffer.concat([header, raw]), String(header.byteLength), 'm');
    assert.deepEqual(binary.inputs[0]!.data, NUL_STRINGS);
    const grpc = decodeGrpcInferRequest({
      model_name: 'm',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: ['2', '2'], contents: { bytes_contents: NUL_STRINGS.map((s) => Buffer.from(s)) } }],
    });
    assert.deepEqual(grpc.inputs[0]!.data, NUL_STRINGS);
  });

  test('an ONNX model refuses them by element over JSON, binary and gRPC, instead of answering cut strings', async () => {
    const expected = /input 'INPUT0': BYTES element 0 contains a NUL character \(U\+0000\) at offset 2/;
    const json = await send('/v2/models/identity_bytes/infer', JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], data: NUL_STRINGS }] }));
    assert.equal(json.status, 400, json.text);
    assert.match(json.body.error!, expected);

    const raw = encodeBytesElements(NUL_STRINGS);
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], parameters: { binary_data_size: raw.byteLength } }] }));
    const binary = await send('/v2/models/identity_bytes/infer', Buffer.concat([header, raw]), {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.byteLength),
    });
    assert.equal(binary.status, 400, binary.text);
    assert.match(binary.body.error!, expected);

    const { error } = await grpcInfer({
      model_name: 'identity_bytes',
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], contents: { bytes_contents: NUL_STRINGS.map((s) => Buffer.from(s)) } }],
    });
    assert.equal(error?.code, status.INVALID_ARGUMENT);
    assert.match(error.details, expected);
  });

  test('strings without NUL still round-trip', async () => {
    const data = ['hello', '', 'héllo wörld ✓', 'tab\there'];
    const reply = await send('/v2/models/identity_bytes/infer', JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], data }] }));
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.body.outputs![0]!.data, data);
  });
});

describe('JSON data that does not fit its shape', () => {
  const infer = (input: string): Promise<Answer> => send('/v2/models/identity_fp64/infer', `{"inputs":[${input}]}`);

  test('ragged rows are refused by position, not flattened', async () => {
    const reply = await infer('{"name":"INPUT0","datatype":"FP64","shape":[2,2],"data":[[1],[2,3,4]]}');
    assert.equal(reply.status, 400);
    assert.match(reply.body.error!, /input 'INPUT0': 'data'\[1\] has 3 values but 'data'\[0\] has 1 values \(ragged data; shape \[2,2\]\)/);
  });

  test('1e309 (Infinity after JSON.parse) is refused by element', async () => {
    const reply = await infer('{"name":"INPUT0","datatype":"FP64","shape":[1,2],"data":[1,1e309]}');
    assert.equal(reply.status, 400);
    assert.match(reply.body.error!, /input 'INPUT0': element 1 is Infinity .*expected a finite number for FP64/);
  });

  for (const [field, where] of [
    ['shape', (deep: string) => `{"name":"INPUT0","datatype":"FP64","shape":${deep},"data":[1]}`],
    ['datatype', (deep: string) => `{"name":"INPUT0","datatype":${deep},"shape":[1,1],"data":[1]}`],
    ['data', (deep: string) => `{"name":"INPUT0","datatype":"FP64","shape":[1,1],"data":${deep}}`],
  ] as const) {
    // 20,000 levels: the audit's 500s came from echoing the value (a stack overflow), on the main
    // thread for small bodies and on a codec thread for large ones (padded past 16 KiB).
    for (const pad of [0, 32 * 1024]) {
      test(`nesting 20,000 levels deep in '${field}' answers 400 naming it (${pad ? 'codec thread' : 'inline'})`, async () => {
        const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
        const reply = await send('/v2/models/identity_fp64/infer', `{"inputs":[${where(deep)}],"id":"${'x'.repeat(pad)}"}`);
        assert.equal(reply.status, 400, reply.text.slice(0, 300));
        assert.match(reply.body.error!, new RegExp(`'INPUT0'.*(${field}|datatype)`));
        if (field !== 'datatype') assert.match(reply.body.error!, /depth limit/);
        assert.ok(reply.text.length < 1000, `${reply.text.length} bytes`);
      });
    }
  }
});

describe('answers stay bounded whatever the input', () => {
  test('a 5 MB datatype string comes back quoted to 200 characters and its size', async () => {
    const reply = await send('/v2/models/identity_fp64/infer', `{"inputs":[{"name":"INPUT0","datatype":"${'A'.repeat(5_000_000)}","shape":[1,1],"data":[1]}]}`);
    assert.equal(reply.status, 400);
    assert.match(reply.body.error!, /unknown datatype "A{200}"… \(5000000 bytes\)/);
    assert.ok(reply.text.length < 1000, `${reply.text.length} bytes`);
  });

  test('a 1 MB tensor name, echoed in every message, is cut by the last guard', async () => {
    const reply = await send('/v2/models/identity_fp64/infer', `{"inputs":[{"name":"${'n'.repeat(1_000_000)}","datatype":"FP64","shape":[1,1],"data":[1]}]}`);
    assert.equal(reply.status, 400);
    assert.ok(reply.text.length < 2200, `${reply.text.length} bytes`);
    assert.match(reply.body.error!, /… \(\d+ bytes\)$/);
  });
});

describe('binary-tensor JSON header limit', () => {
  test('a header over 1 MiB is refused with 413 naming Inference-Header-Content-Length, before it is parsed', async () => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP64', shape: [1, 1], data: [1] }], id: 'x'.repeat(1024 * 1024) }));
    const reply = await send('/v2/models/identity_fp64/infer', header, {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.byteLength),
    });
    assert.equal(reply.status, 413, reply.text);
    assert.match(reply.body.error!, /Inference-Header-Content-Length is \d+ bytes, over the limit of 1048576/);
  });

  test('the limit is a server option (--max-inference-header-bytes), on OIP and SageMaker routes alike', async () => {
    const app = createHttpServer(server.slipway, { maxInferenceHeaderBytes: 64 });
    try {
      const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP64', shape: [1, 1], data: [1] }] }));
      const oip = await app.inject({
        method: 'POST',
        url: '/v2/models/identity_fp64/infer',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) },
        payload: header,
      });
      assert.equal(oip.statusCode, 413, oip.body);
      assert.match(oip.json<{ error: string }>().error, /over the limit of 64/);
      const sagemaker = await app.inject({
        method: 'POST',
        url: '/invocations',
        headers: { 'content-type': `application/vnd.sagemaker-triton.binary+json;json-header-size=${header.byteLength}`, 'x-amzn-sagemaker-target-model': 'identity_fp64' },
        payload: header,
      });
      assert.equal(sagemaker.statusCode, 413, sagemaker.body);
    } finally {
      await app.close();
    }
  });
});

describe('Content-Encoding', () => {
  const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP64', shape: [1, 2], data: [1.5, -2] }] });
  for (const [encoding, compress] of [
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const) {
    test(`a ${encoding} body is decoded`, async () => {
      const reply = await send('/v2/models/identity_fp64/infer', compress(Buffer.from(body)), { 'content-encoding': encoding });
      assert.equal(reply.status, 200, reply.text);
      assert.deepEqual(reply.body.outputs![0]!.data, [1.5, -2]);
    });
  }

  test('an unknown encoding is 415 naming it', async () => {
    const reply = await send('/v2/models/identity_fp64/infer', body, { 'content-encoding': 'zstd' });
    assert.equal(reply.status, 415);
    assert.match(reply.body.error!, /Content-Encoding "zstd" is not supported/);
  });

  test('a body that is not what its encoding says is 400', async () => {
    const reply = await send('/v2/models/identity_fp64/infer', body, { 'content-encoding': 'gzip' });
    assert.equal(reply.status, 400);
    assert.match(reply.body.error!, /not valid gzip data/);
  });

  test('a decompression bomb is refused with 413 once it expands past the ratio', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    const reply = await send('/v2/models/identity_fp64/infer', bomb, { 'content-encoding': 'gzip' });
    assert.equal(reply.status, 413, reply.text);
    assert.match(reply.body.error!, /expands more than 100×/);
  });
});

describe('gRPC bytes that are not a protobuf message', () => {
  test('answer INVALID_ARGUMENT, not INTERNAL', async () => {
    // Random bytes that protobufjs cannot read ("index out of range: 7 + 1 > 7").
    const garbage = Buffer.from('789215d2b347a1', 'hex');
    const error = await new Promise<ServiceError | null>((resolve) => {
      client.makeUnaryRequest(
        '/inference.GRPCInferenceService/ModelInfer',
        (b: Buffer) => b,
        (b: Buffer) => b,
        garbage,
        (e) => resolve(e),
      );
    });
    assert.equal(error?.code, status.INVALID_ARGUMENT, error?.details);
    assert.match(error.details, /ModelInfer: the request is not a valid protobuf message/);
  });
});

describe('503 answers say when to retry', () => {
  test('HTTP carries Retry-After and gRPC retry-after metadata for a model that is not ready', async () => {
    await server.slipway.unloadModel('identity_int8');
    try {
      const reply = await send('/v2/models/identity_int8/infer', JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'INT8', shape: [1, 1], data: [1] }] }));
      assert.equal(reply.status, 503, reply.text);
      assert.equal(reply.headers.get('retry-after'), '1');
      const { error } = await grpcInfer({ model_name: 'identity_int8', inputs: [{ name: 'INPUT0', datatype: 'INT8', shape: ['1', '1'], contents: { int_contents: [1] } }] });
      assert.equal(error?.code, status.UNAVAILABLE);
      assert.deepEqual(error.metadata.get('retry-after'), ['1']);
    } finally {
      await server.slipway.loadModel('identity_int8');
    }
  });
});
