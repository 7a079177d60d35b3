// Malformed requests for the fuzzing suite: valid OIP requests (JSON, binary tensors, gRPC) bent by
// seeded mutators, so a failing case is reproduced by its seed and index alone. The mutations are
// the ones the issue-18 audit found answers for: deep nesting, huge strings, non-finite numbers,
// ragged data, wrong sizes, truncated and flipped bytes, odd headers and encodings.
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { loadServices } from '../../src/protocol/grpc/proto.js';
import { encodeBytesElements } from '../../src/tensor/binary.js';
import { prng } from '../helpers/batch-data.js';

/** One HTTP request to send. */
export interface HttpCase {
  method: 'POST' | 'GET';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What was done to it, for the report of a failing case. */
  mutation: string;
}

/** One ModelInfer call, as the bytes of its request message. */
export interface GrpcCase {
  bytes: Buffer;
  mutation: string;
}

export type Random = () => number;

/** A seeded stream of random choices. */
export class Dice {
  readonly next: Random;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

interface Template {
  model: string;
  datatype: string;
  data: unknown[];
}

/** The fixture models the suite aims at (test/fixtures/models), each with 2×2 data. */
const TEMPLATES: readonly Template[] = [
  { model: 'identity_fp32', datatype: 'FP32', data: [0.5, -1.25, 3, 1e-3] },
  { model: 'identity_fp64', datatype: 'FP64', data: [0.1, -2.5, 1e300, 5e-324] },
  { model: 'identity_int64', datatype: 'INT64', data: [-1, 0, 1, 9007199254740991] },
  { model: 'identity_uint8', datatype: 'UINT8', data: [0, 1, 254, 255] },
  { model: 'identity_bool', datatype: 'BOOL', data: [true, false, false, true] },
  { model: 'identity_fp16', datatype: 'FP16', data: [0.5, -2, 65504, 0] },
  { model: 'identity_bytes', datatype: 'BYTES', data: ['hello', '', 'héllo ✓', '{"json":1}'] },
];

/** Markers replaced in the JSON text after JSON.stringify, for numbers JSON.stringify cannot write. */
const RAW = { inf: '"\u0001INF\u0001"', nan: '"\u0001NAN\u0001"', big: '"\u0001BIG\u0001"', neg0: '"\u0001NEG0\u0001"' };

function deepArray(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

/** A value that is wrong somewhere an OIP field is expected. */
function nastyValue(dice: Dice): unknown {
  switch (dice.int(22)) {
    case 0: return null;
    case 1: return true;
    case 2: return -1;
    case 3: return 1.5;
    case 4: return 2 ** 53 + 2;
    case 5: return RAW.inf;
    case 6: return RAW.nan;
    case 7: return RAW.big;
    case 8: return RAW.neg0;
    case 9: return '';
    case 10: return 'x'.repeat(dice.int(200_000));
    case 11: return 'ab\u0000cd';
    case 12: return '\ud800 lone surrogate';
    case 13: return {};
    case 14: return [];
    case 15: return Array.from({ length: dice.int(5000) }, () => dice.int(10));
    case 16: return { deep: '\u0002DEEP\u0002' };
    case 17: return '\u0002DEEP\u0002';
    case 18: return [[1], [2, 3, 4]];
    case 19: return Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    case 20: return ['FP32', 'BYTES', 'FP33', 'fp32', 'INT128', 'BF16'][dice.int(6)];
    default: return [2 ** 31, 2 ** 31];
  }
}

/** Every path into a JSON value (object keys and array indices), so a mutation can aim anywhere. */
function paths(value: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(prefix);
  if (out.length > 200) return out;
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

function mutateTree(root: Record<string, unknown>, dice: Dice): string {
  const all = paths(root).filter((p) => p.length > 0);
  const path = dice.pick(all);
  let parent: unknown = root;
  for (const key of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[key];
  const last = path.at(-1)!;
  const target = parent as Record<string | number, unknown>;
  const action = dice.int(4);
  if (action === 0 && !Array.isArray(target)) delete target[last];
  else if (action === 1) target[`extra_${dice.int(5)}`] = nastyValue(dice);
  else target[last] = nastyValue(dice);
  return `${action === 0 ? 'delete' : action === 1 ? 'add beside' : 'replace'} ${path.join('.')}`;
}

function jsonText(value: unknown, dice: Dice): string {
  const depth = 1000 + dice.int(20_000);
  return JSON.stringify(value)
    .replaceAll(RAW.inf, dice.chance(0.5) ? '1e309' : '-1e309')
    .replaceAll(RAW.nan, 'NaN')
    .replaceAll(RAW.big, '1'.repeat(400))
    .replaceAll(RAW.neg0, '-0')
    .replaceAll('"\u0002DEEP\u0002"', deepArray(depth));
}

function validJsonRequest(template: Template, dice: Dice): Record<string, unknown> {
  // A copy: mutations write into the request, and the templates serve every case.
  const data = [...template.data];
  const request: Record<string, unknown> = {
    inputs: [{ name: 'INPUT0', datatype: template.datatype, shape: [2, 2], data: dice.chance(0.5) ? data : [data.slice(0, 2), data.slice(2)] }],
  };
  if (dice.chance(0.3)) request.id = `req-${dice.int(1000)}`;
  if (dice.chance(0.3)) request.outputs = [{ name: 'OUTPUT0', parameters: { binary_data: dice.chance(0.5) } }];
  if (dice.chance(0.2)) request.parameters = { timeout: dice.pick([1, 10, 1_000_000]), priority: dice.pick([0, 1, 99]) };
  return request;
}

function mutateBytes(bytes: Buffer, dice: Dice): { bytes: Buffer; how: string } {
  const copy = Buffer.from(bytes);
  switch (dice.int(5)) {
    case 0: {
      const n = 1 + dice.int(8);
      for (let i = 0; i < n && copy.length > 0; i++) copy[dice.int(copy.length)] = dice.int(256);
      return { bytes: copy, how: `flip ${n} bytes` };
    }
    case 1: {
      const at = dice.int(copy.length + 1);
      return { bytes: copy.subarray(0, at), how: `truncate at ${at}` };
    }
    case 2: {
      const at = dice.int(copy.length + 1);
      const junk = Buffer.from(Array.from({ length: 1 + dice.int(64) }, () => dice.int(256)));
      return { bytes: Buffer.concat([copy.subarray(0, at), junk, copy.subarray(at)]), how: `insert ${junk.length} bytes at ${at}` };
    }
    case 3: {
      const at = dice.int(copy.length + 1);
      const slice = copy.subarray(at, at + dice.int(64));
      return { bytes: Buffer.concat([copy.subarray(0, at), slice, slice, copy.subarray(at)]), how: `repeat ${slice.length} bytes at ${at}` };
    }
    default:
      return { bytes: Buffer.from(Array.from({ length: dice.int(300) }, () => dice.int(256))), how: 'random bytes' };
  }
}

function binaryRequest(template: Template, dice: Dice): { header: Record<string, unknown>; tail: Buffer } {
  const tail = binaryData(template);
  return {
    header: {
      inputs: [{ name: 'INPUT0', datatype: template.datatype, shape: [2, 2], parameters: { binary_data_size: tail.byteLength } }],
      ...(dice.chance(0.5) && { parameters: { binary_data_output: true } }),
    },
    tail,
  };
}

function binaryData(template: Template): Buffer {
  const d = template.data;
  switch (template.datatype) {
    case 'FP32': return Buffer.from(new Float32Array(d as number[]).buffer);
    case 'FP64': return Buffer.from(new Float64Array(d as number[]).buffer);
    case 'INT64': return Buffer.from(new BigInt64Array((d as number[]).map(BigInt)).buffer);
    case 'UINT8': return Buffer.from(d as number[]);
    case 'BOOL': return Buffer.from((d as boolean[]).map(Number));
    case 'FP16': return Buffer.from(new Uint16Array([0x3800, 0xc000, 0x7bff, 0]).buffer);
    default: return Buffer.from(encodeBytesElements(d as string[]));
  }
}

const ENCODINGS: Array<[string, (b: Buffer) => Buffer]> = [
  ['gzip', gzipSync],
  ['deflate', deflateSync],
  ['br', brotliCompressSync],
  ['gzip', (b) => b],
  ['zstd', (b) => b],
  ['gzip, br', gzipSync],
  ['identity', (b) => b],
];

const ODD_PATHS = [
  (m: string) => `/v2/models/${m}/versions/-1/infer`,
  (m: string) => `/v2/models/${m}/versions/99999999999999999999999/infer`,
  (m: string) => `/v2/models/${m}/versions/abc/infer`,
  () => `/v2/models/${'m'.repeat(5000)}/infer`,
  () => '/v2/models/%00/infer',
  () => '/v2/models/%E2%82/infer',
  () => '/v2/models/../../etc/passwd/infer',
  (m: string) => `/v2/models/${m}/infer?${'q=1&'.repeat(500)}`,
  (m: string) => `/v2/models/${m}`,
  (m: string) => `/v2/models/${m}/ready`,
  () => '/v2/repository/index',
  () => '/v2/repository/models/identity_fp32/unload',
  (m: string) => `/v1/models/${m}:predict`,
  () => '/invocations',
  () => '/score',
];

/**
 * The `index`-th malformed HTTP request for `seed`: the same seed and index always give the same
 * request, so a failure report names everything needed to replay it.
 */
export function httpCase(seed: number, index: number): HttpCase {
  const dice = new Dice(seed * 1_000_003 + index);
  const template = dice.pick(TEMPLATES);
  let path = `/v2/models/${template.model}/infer`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const kind = dice.int(10);
  if (kind <= 2) {
    const request = validJsonRequest(template, dice);
    const mutation = mutateTree(request, dice);
    return { method: 'POST', path, headers, body: Buffer.from(jsonText(request, dice)), mutation: `json tree: ${mutation}` };
  }
  if (kind <= 4) {
    const { bytes, how } = mutateBytes(Buffer.from(JSON.stringify(validJsonRequest(template, dice))), dice);
    return { method: 'POST', path, headers, body: bytes, mutation: `json bytes: ${how}` };
  }
  if (kind <= 6) {
    const { header, tail } = binaryRequest(template, dice);
    let how = 'binary';
    if (dice.chance(0.5)) how += `: header ${mutateTree(header, dice)}`;
    const headerBytes = Buffer.from(jsonText(header, dice));
    let body: Buffer = Buffer.concat([headerBytes, tail]);
    let length = String(headerBytes.byteLength);
    switch (dice.int(4)) {
      case 0:
        length = dice.pick(['0', '-1', '', 'abc', '1e3', String(body.length + 1), String(2 ** 53), String(headerBytes.byteLength - 1), ' 12 ']);
        how += `, Inference-Header-Content-Length ${JSON.stringify(length)}`;
        break;
      case 1: {
        const mutated = mutateBytes(body, dice);
        body = mutated.bytes;
        how += `, body ${mutated.how}`;
        break;
      }
      default:
        break;
    }
    return { method: 'POST', path, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': length }, body, mutation: how };
  }
  if (kind === 7) {
    const [encoding, compress] = dice.pick(ENCODINGS);
    const body = compress(Buffer.from(jsonText(validJsonRequest(template, dice), dice)));
    return { method: 'POST', path, headers: { ...headers, 'content-encoding': encoding }, body, mutation: `content-encoding ${encoding}` };
  }
  if (kind === 8) {
    path = dice.pick(ODD_PATHS)(template.model);
    const method = dice.chance(0.2) ? 'GET' : 'POST';
    const body = method === 'POST' ? Buffer.from(JSON.stringify(validJsonRequest(template, dice))) : undefined;
    return { method, path, headers, ...(body !== undefined && { body }), mutation: `path ${path.slice(0, 80)}` };
  }
  const contentType = dice.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '', 'application/octet-stream']);
  const body = Buffer.from(jsonText(validJsonRequest(template, dice), dice));
  return { method: 'POST', path, headers: contentType === '' ? {} : { 'content-type': contentType }, body, mutation: `content-type ${JSON.stringify(contentType)}` };
}

function grpcObject(template: Template, dice: Dice): Record<string, unknown> {
  const raw = dice.chance(0.4);
  const d = [...template.data];
  const contents: Record<string, unknown> = {};
  switch (template.datatype) {
    case 'FP32': contents.fp32_contents = d; break;
    case 'FP64': contents.fp64_contents = d; break;
    case 'INT64': contents.int64_contents = (d as number[]).map(String); break;
    case 'UINT8': contents.uint_contents = d; break;
    case 'BOOL': contents.bool_contents = d; break;
    case 'BYTES': contents.bytes_contents = (d as string[]).map((s) => Buffer.from(s)); break;
    default: break;
  }
  const input: Record<string, unknown> = { name: 'INPUT0', datatype: template.datatype, shape: ['2', '2'] };
  if (!raw && Object.keys(contents).length > 0) input.contents = contents;
  return {
    model_name: template.model,
    inputs: [input],
    ...((raw || Object.keys(contents).length === 0) && { raw_input_contents: [binaryData(template)] }),
  };
}

type Serialize = (value: object) => Buffer;
let serializeInfer: Serialize | undefined;

function serialize(value: object): Buffer {
  serializeInfer ??= loadServices().inference.service.ModelInfer!.requestSerialize as Serialize;
  return serializeInfer(value);
}

/** The `index`-th malformed ModelInfer request for `seed`, as raw message bytes. */
export function grpcCase(seed: number, index: number): GrpcCase {
  const dice = new Dice(seed * 1_000_033 + index + 7);
  const template = dice.pick(TEMPLATES);
  const request = grpcObject(template, dice);
  const valid = serialize(request);
  if (dice.chance(0.5)) {
    const { bytes, how } = mutateBytes(valid, dice);
    return { bytes, mutation: `bytes: ${how}` };
  }
  const input = (request.inputs as Array<Record<string, unknown>>)[0]!;
  const field = dice.pick(['shape', 'datatype', 'name', 'model_name', 'raw', 'contents', 'parameters', 'model_version']);
  switch (field) {
    case 'shape': input.shape = dice.pick([['-1', '2'], ['4'], ['2', '2', '2'], [], ['9223372036854775807'], ['0', '2'], Array.from({ length: 300 }, () => '1')]); break;
    case 'datatype': input.datatype = dice.pick(['FP33', '', 'x'.repeat(100_000), 'BYTES', 'FP64', 'BF16']); break;
    case 'name': input.name = dice.pick(['', 'INPUT1', 'n'.repeat(100_000), 'ab\u0000']); break;
    case 'model_name': request.model_name = dice.pick(['', 'nope', 'm'.repeat(10_000), '../identity_fp32']); break;
    case 'raw': request.raw_input_contents = dice.pick([[Buffer.alloc(3)], [Buffer.alloc(0)], [binaryData(template), binaryData(template)], [Buffer.alloc(1 << 16)]]); break;
    case 'contents': input.contents = dice.pick([{ fp32_contents: [1, 2, 3] }, { bytes_contents: [Buffer.from([0xff, 0xfe])] }, { int_contents: [1, 2, 3, 4] }, { bytes_contents: [Buffer.from('a\u0000b'), Buffer.from('c'), Buffer.from('d'), Buffer.from('e')] }]); break;
    case 'parameters': request.parameters = dice.pick([{ timeout: { int64_param: '1' } }, { priority: { string_param: 'high' } }, { binary_data_output: { int64_param: '5' } }]); break;
    default: request.model_version = dice.pick(['-1', '0', 'abc', '99999999999999999999']); break;
  }
  try {
    return { bytes: serialize(request), mutation: `field ${field}` };
  } catch {
    return { bytes: mutateBytes(valid, dice).bytes, mutation: `field ${field} (unserialisable; bytes instead)` };
  }
}

/**
 * Valid requests to every model the cases aim at, over JSON, binary tensors and gRPC: traffic to
 * send before measuring a baseline, so each model's workers have served once (their first
 * requests grow heaps that then stay, which is warm-up, not a leak).
 */
export function warmupCases(): { http: HttpCase[]; grpc: GrpcCase[] } {
  const dice = new Dice(1);
  const http: HttpCase[] = [];
  const grpc: GrpcCase[] = [];
  for (const template of TEMPLATES) {
    const path = `/v2/models/${template.model}/infer`;
    const json = validJsonRequest(template, dice);
    http.push({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(json)), mutation: 'none' });
    const { header, tail } = binaryRequest(template, dice);
    const headerBytes = Buffer.from(JSON.stringify(header));
    http.push({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerBytes.byteLength) },
      body: Buffer.concat([headerBytes, tail]),
      mutation: 'none',
    });
    for (let i = 0; i < 2; i++) grpc.push({ bytes: serialize(grpcObject(template, dice)), mutation: 'none' });
  }
  return { http, grpc };
}
