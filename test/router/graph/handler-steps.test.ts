import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SlipwayGrpcClient, SlipwayHttpClient } from '../../../src/client/index.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { startProtocolServer, type ProtocolServer } from '../../helpers/protocol-server.js';
import { linkSlipwayPackage, tempRepository } from '../../helpers/temp-repository.js';
import { post } from '../../helpers/test-server.js';

// Tensor handlers as graph steps, on real servers: `simple` (ONNX: a+b, a-b) feeds `mix` (a tensor
// handler: x + 2y, x·y), in a Triton ensemble and in KServe Sequences; every answer is compared
// with calling the steps by hand through the same server.
const HANDLERS: Record<string, string> = {
  mix: `import { defineTensorHandler } from 'slipway';
export default defineTensorHandler({
  description: 'x + 2y and x·y, element by element',
  maxBatchSize: 8,
  inputs: [{ name: 'x', datatype: 'INT32', shape: [-1, 16] }, { name: 'y', datatype: 'INT32', shape: [-1, 16] }],
  outputs: [{ name: 'sum', datatype: 'INT32', shape: [-1, 16] }, { name: 'prod', datatype: 'INT32', shape: [-1, 16] }],
  predict: ({ x, y }, ctx) => {
    if (ctx.requestParameters.fail_mix === true) throw new Error('asked to fail');
    const a = x!.data as Int32Array;
    const b = y!.data as Int32Array;
    return { sum: { shape: x!.shape, data: a.map((v, i) => v + 2 * b[i]!) }, prod: { shape: x!.shape, data: a.map((v, i) => v * b[i]!) } };
  },
});
`,
  whoami: `import { defineTensorHandler } from 'slipway';
export default defineTensorHandler({
  inputs: [{ name: 'x', datatype: 'INT32', shape: [-1, 16] }],
  outputs: [{ name: 'request_id', datatype: 'BYTES', shape: [1] }],
  predict: (_inputs, ctx) => ({ request_id: { datatype: 'BYTES', shape: [1], data: [ctx.requestId ?? 'none'] } }),
});
`,
  badshape: `import { defineTensorHandler } from 'slipway';
export default defineTensorHandler({
  inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 16] }],
  outputs: [{ name: 'y', datatype: 'INT32', shape: [1, 16] }],
  predict: () => ({ y: { shape: [1, 8], data: new Int32Array(8) } }),
});
`,
  // A JSON handler: its required fields become tensors when a graph calls it (optional ones keep their defaults).
  jsonstats: `import { defineHandler, z } from 'slipway';
export default defineHandler({
  input: z.object({ rows: z.array(z.array(z.number())), scale: z.number().default(0.5) }),
  output: z.object({ total: z.number(), count: z.number().int(), sums: z.array(z.number()), request: z.string(), big: z.boolean() }),
  predict: ({ rows, scale }, ctx) => {
    const sums = rows.map((r) => r.reduce((a, b) => a + b, 0) * scale);
    const total = sums.reduce((a, b) => a + b, 0);
    return { total, count: rows.length, sums, request: ctx.requestId ?? 'none', big: total > 100 };
  },
});
`,
  jsonfile: `import { defineHandler, file, z } from 'slipway';
export default defineHandler({ input: z.object({ doc: file(), note: z.object({ a: z.number() }) }), output: z.object({ n: z.number() }), predict: ({ doc }) => ({ n: doc.size }) });
`,
};

const ig = (name: string, nodes: string) => `apiVersion: serving.kserve.io/v1alpha1
kind: InferenceGraph
metadata: { name: ${name} }
spec:
  nodes:
${nodes}`;

const GRAPHS: Record<string, { file: 'config.yaml' | 'inference-graph.yaml'; text: string }> = {
  mixed: {
    file: 'config.yaml',
    text: `platform: ensemble
max_batch_size: 8
input: [{ name: a, data_type: TYPE_INT32, dims: [16] }, { name: b, data_type: TYPE_INT32, dims: [16] }]
output: [{ name: sum, data_type: TYPE_INT32, dims: [16] }, { name: prod, data_type: TYPE_INT32, dims: [16] }]
ensemble_scheduling:
  step:
  - { model_name: simple, input_map: { INPUT0: a, INPUT1: b }, output_map: { OUTPUT0: s, OUTPUT1: d } }
  - { model_name: mix, input_map: { x: s, y: d }, output_map: { sum: sum, prod: prod } }
`,
  },
  seqmix: {
    file: 'inference-graph.yaml',
    text: ig('seqmix', `    root:
      routerType: Sequence
      steps:
      - { serviceName: simple, name: first }
      - { serviceName: mix, name: second, data: $response, inputMap: { x: OUTPUT0, y: OUTPUT1 } }
`),
  },
  softmix: {
    file: 'inference-graph.yaml',
    text: ig('softmix', `    root:
      routerType: Sequence
      steps:
      - { serviceName: simple, name: first }
      - { serviceName: mix, name: second, data: $response, inputMap: { x: OUTPUT0, y: OUTPUT1 }, dependency: Soft }
`),
  },
  ids: {
    file: 'inference-graph.yaml',
    text: ig('ids', `    root:
      routerType: Sequence
      steps:
      - { serviceName: whoami }
`),
  },
  // Load-time validation of handler steps: each must be UNAVAILABLE with graph, step and field named.
  bad_datatype: {
    file: 'config.yaml',
    text: `platform: ensemble
max_batch_size: 8
input: [{ name: a, data_type: TYPE_FP32, dims: [16] }]
output: [{ name: sum, data_type: TYPE_INT32, dims: [16] }]
ensemble_scheduling:
  step:
  - { model_name: mix, input_map: { x: a, y: a }, output_map: { sum: sum } }
`,
  },
  bad_output: {
    file: 'config.yaml',
    text: `platform: ensemble
max_batch_size: 8
input: [{ name: a, data_type: TYPE_INT32, dims: [16] }]
output: [{ name: total, data_type: TYPE_INT32, dims: [16] }]
ensemble_scheduling:
  step:
  - { model_name: mix, input_map: { x: a, y: a }, output_map: { total: total } }
`,
  },
  bad_input: {
    file: 'inference-graph.yaml',
    text: ig('bad_input', `    root:
      routerType: Sequence
      steps:
      - { serviceName: simple }
      - { serviceName: mix, name: combine, data: $response, inputMap: { x: OUTPUT0, z: OUTPUT1 } }
`),
  },
  bad_shape: {
    file: 'inference-graph.yaml',
    text: ig('bad_shape', `    root:
      routerType: Sequence
      steps:
      - { serviceName: whoami, name: id }
      - { serviceName: mix, name: combine, data: $response, inputMap: { x: request_id, y: request_id } }
`),
  },
  // simple (ONNX, INT32 tensors) → jsonstats (a JSON handler): OUTPUT0 becomes its 'rows' field.
  json_step: {
    file: 'inference-graph.yaml',
    text: ig('json_step', `    root:
      routerType: Sequence
      steps:
      - { serviceName: simple, name: first }
      - { serviceName: jsonstats, name: stats, data: $response, inputMap: { rows: OUTPUT0 } }
`),
  },
  json_file: {
    file: 'inference-graph.yaml',
    text: ig('json_file', `    root:
      routerType: Sequence
      steps:
      - { serviceName: jsonfile, name: upload }
`),
  },
  json_ensemble: {
    file: 'config.yaml',
    text: `platform: ensemble
input: [{ name: rows, data_type: TYPE_FP64, dims: [2, 16] }]
output: [{ name: total, data_type: TYPE_FP64, dims: [1] }]
ensemble_scheduling:
  step:
  - { model_name: jsonstats, input_map: { rows: rows }, output_map: { total: total } }
`,
  },
};

let server: ProtocolServer;
let remote: ProtocolServer;
let repo: { dir: string; remove: () => Promise<void> };
let remoteRepo: { dir: string; remove: () => Promise<void> };
let http: SlipwayHttpClient;

async function writeHandlers(dir: string, names: readonly string[]): Promise<void> {
  await linkSlipwayPackage(dir);
  for (const name of names) {
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'handler.ts'), HANDLERS[name]!);
  }
}

before(async () => {
  // A second server serves whoami, for a remote handler step.
  remoteRepo = await tempRepository({});
  await writeHandlers(remoteRepo.dir, ['whoami']);
  remote = await startProtocolServer({ models: remoteRepo.dir });
  repo = await tempRepository({ simple: {} });
  await writeHandlers(repo.dir, Object.keys(HANDLERS));
  for (const [name, graph] of Object.entries(GRAPHS)) {
    await mkdir(join(repo.dir, name));
    await writeFile(join(repo.dir, name, graph.file), graph.text);
  }
  await mkdir(join(repo.dir, 'remote_ids'));
  await writeFile(
    join(repo.dir, 'remote_ids', 'inference-graph.yaml'),
    ig('remote_ids', `    root:
      routerType: Sequence
      steps:
      - { serviceUrl: '${remote.url}/v2/models/whoami/infer' }
`),
  );
  server = await startProtocolServer({ models: repo.dir });
  http = new SlipwayHttpClient(server.url);
});

after(async () => {
  await server?.close();
  await remote?.close();
  await repo?.remove();
  await remoteRepo?.remove();
});

const a: Tensor = { name: 'a', datatype: 'INT32', shape: [2, 16], data: Int32Array.from({ length: 32 }, (_, i) => i - 7) };
const b: Tensor = { name: 'b', datatype: 'INT32', shape: [2, 16], data: Int32Array.from({ length: 32 }, (_, i) => 3 * i + 1) };
const values = (t: Tensor): number[] => Array.from(t.data as Int32Array);

/** simple, then mix, called one after the other through the server. */
async function byHand(): Promise<{ simple: Map<string, Tensor>; mix: Map<string, Tensor> }> {
  const first = await http.infer('simple', [
    { ...a, name: 'INPUT0' },
    { ...b, name: 'INPUT1' },
  ]);
  const second = await http.infer('mix', [
    { ...first.output('OUTPUT0'), name: 'x' },
    { ...first.output('OUTPUT1'), name: 'y' },
  ]);
  return { simple: new Map(first.outputs.map((t) => [t.name, t])), mix: new Map(second.outputs.map((t) => [t.name, t])) };
}

test('a tensor handler is a model: OIP metadata from its declaration, infer over REST and gRPC', async () => {
  assert.deepEqual(await http.modelMetadata('mix'), {
    name: 'mix',
    versions: ['1'],
    platform: 'handler',
    inputs: [
      { name: 'x', datatype: 'INT32', shape: [-1, 16] },
      { name: 'y', datatype: 'INT32', shape: [-1, 16] },
    ],
    outputs: [
      { name: 'sum', datatype: 'INT32', shape: [-1, 16] },
      { name: 'prod', datatype: 'INT32', shape: [-1, 16] },
    ],
  });
  const x = { ...a, name: 'x' };
  const y = { ...b, name: 'y' };
  const rest = await http.infer('mix', [x, y]);
  assert.deepEqual(values(rest.output('sum')), values(a).map((v, i) => v + 2 * values(b)[i]!));
  assert.deepEqual(values(rest.output('prod')), values(a).map((v, i) => v * values(b)[i]!));
  const grpc = new SlipwayGrpcClient(server.grpcAddress);
  try {
    const viaGrpc = await grpc.infer('mix', [x, y], { outputs: ['prod'] });
    assert.deepEqual(viaGrpc.outputs.map((t) => t.name), ['prod']);
    assert.deepEqual(values(viaGrpc.output('prod')), values(rest.output('prod')));
  } finally {
    grpc.close();
  }
});

test('Triton ensemble with a handler step answers what calling simple, then mix, by hand answers', async () => {
  const expected = await byHand();
  const graph = await http.infer('mixed', [a, b]);
  assert.deepEqual(values(graph.output('sum')), values(expected.mix.get('sum')!));
  assert.deepEqual(values(graph.output('prod')), values(expected.mix.get('prod')!));
});

test('KServe Sequence with a handler step answers the same, and times the step in Server-Timing', async () => {
  const expected = await byHand();
  const reply = await post(`${server.url}/v2/models/seqmix/infer`, {
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [2, 16], data: values(a) },
      { name: 'INPUT1', datatype: 'INT32', shape: [2, 16], data: values(b) },
    ],
  });
  assert.equal(reply.status, 200);
  const byName = new Map((reply.body.outputs as Array<{ name: string; data: number[] }>).map((t) => [t.name, t.data]));
  assert.deepEqual(byName.get('sum'), values(expected.mix.get('sum')!));
  assert.deepEqual(byName.get('prod'), values(expected.mix.get('prod')!));
  assert.match(reply.headers.get('server-timing') ?? '', /step\.first;dur=[\d.]+, step\.second;dur=[\d.]+/);
});

test('a Hard handler step that fails fails the request, naming the graph, the step and the handler', async () => {
  const inputs = [
    { ...a, name: 'INPUT0' },
    { ...b, name: 'INPUT1' },
  ];
  const reply = await post(`${server.url}/v2/models/seqmix/infer`, {
    parameters: { fail_mix: true },
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: values(t) })),
  });
  assert.equal(reply.status, 500);
  assert.equal(reply.body.code, 'HANDLER_FAILED');
  assert.match(reply.body.error, /graph 'seqmix' spec\.nodes\.root\.steps\[1\] \(second\) → mix: handler 'mix' failed: asked to fail/);
});

test('a Soft handler step that fails is skipped: the Sequence answers the step before’s answer', async () => {
  const expected = await byHand();
  const inputs = [
    { ...a, name: 'INPUT0' },
    { ...b, name: 'INPUT1' },
  ];
  const ok = await http.infer('softmix', inputs);
  assert.deepEqual(values(ok.output('sum')), values(expected.mix.get('sum')!));
  const skipped = await post(`${server.url}/v2/models/softmix/infer`, {
    parameters: { fail_mix: true },
    inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: values(t) })),
  });
  assert.equal(skipped.status, 200);
  assert.deepEqual(
    (skipped.body.outputs as Array<{ name: string }>).map((t) => t.name),
    ['OUTPUT0', 'OUTPUT1'],
  );
  assert.deepEqual(skipped.body.outputs[0].data, values(expected.simple.get('OUTPUT0')!));
  assert.match(skipped.headers.get('server-timing') ?? '', /step\.second;dur=[\d.]+;desc=error/);
});

test('the request id reaches a handler step (ctx.requestId), locally and on a remote server as x-request-id', async () => {
  const body = { inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 16], data: values(a).slice(0, 16) }] };
  const local = await post(`${server.url}/v2/models/ids/infer`, body, { 'x-request-id': 'req-local-1' });
  assert.equal(local.status, 200);
  assert.deepEqual(local.body.outputs[0].data, ['req-local-1']);
  const far = await post(`${server.url}/v2/models/remote_ids/infer`, body, { 'x-request-id': 'req-remote-2' });
  assert.equal(far.status, 200);
  assert.deepEqual(far.body.outputs[0].data, ['req-remote-2']);
  // Through a dialect too: TF-Serving's predict carries the same request id.
  const tf = await post(`${server.url}/v1/models/ids:predict`, { instances: [values(a).slice(0, 16)] }, { 'x-request-id': 'req-tf-3' });
  assert.equal(tf.status, 200);
  assert.deepEqual(tf.body.predictions, ['req-tf-3']);
  // Without one, the server's own id is used (and echoed), never OIP's body id.
  const fresh = await fetch(`${server.url}/v2/models/ids/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'body-id', ...body }) });
  const answer = (await fresh.json()) as { id: string; outputs: Array<{ data: string[] }> };
  assert.equal(answer.id, 'body-id');
  assert.deepEqual(answer.outputs[0]!.data, [fresh.headers.get('x-request-id')]);
});

test('load-time validation of handler steps names the graph, the step and the field', async () => {
  const index = await http.repositoryIndex();
  const reason = (name: string) => {
    const row = index.find((r) => r.name === name);
    assert.equal(row?.state, 'UNAVAILABLE', `${name} should not load`);
    return row!.reason;
  };
  assert.equal(
    reason('bad_datatype'),
    "graph 'bad_datatype': ensemble_scheduling.step[0] (model 'mix').input_map.x: 'a' from ensemble input 'a': datatype FP32 does not match the INT32 it expects",
  );
  assert.equal(reason('bad_output'), "graph 'bad_output': ensemble_scheduling.step[0] (model 'mix').output_map.total: model 'mix' has no output 'total' (outputs: 'sum', 'prod')");
  assert.equal(reason('bad_input'), "graph 'bad_input': spec.nodes.root.steps[1] (combine).inputMap.z: model 'mix' has no input 'z' (inputs: 'x', 'y')");
  assert.match(reason('bad_shape'), /^graph 'bad_shape': spec\.nodes\.root\.steps\[1\] \(combine\)\.inputMap\.x: 'request_id' feeds input 'x' of model 'mix': datatype BYTES does not match the INT32 it expects$/);
  // A JSON handler whose fields have no tensor form cannot be a step: the reason names each field.
  assert.equal(
    reason('json_file'),
    "graph 'json_file': spec.nodes.root.steps[0] (upload).serviceName: model 'jsonfile' is a JSON handler (defineHandler) that cannot be a graph step: " +
      "its request field 'doc' is a file, which has no tensor form; field 'note' is an object (a tensor holds numbers, integers, booleans or strings, in arrays); declare it with defineTensorHandler instead",
  );
  // Triton ensembles map tensors by name and type only: a JSON handler is no model there.
  assert.match(reason('json_ensemble'), /^graph 'json_ensemble': ensemble_scheduling\.step\[0\] \(model 'jsonstats'\)\.model_name: model 'jsonstats' is a pipeline \(a JSON handler, defineHandler, with no graph of its own\).*not tensors.*InferenceGraph step/);
  for (const name of ['mixed', 'seqmix', 'softmix', 'ids', 'remote_ids', 'mix', 'whoami', 'json_step']) {
    assert.equal(index.find((r) => r.name === name)?.state, 'READY', name);
  }
});

test('an answer that breaks the handler’s declared signature is the handler’s bug (500), naming the output', async () => {
  const reply = await post(`${server.url}/v2/models/badshape/infer`, { inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 16], data: values(a).slice(0, 16) }] });
  assert.equal(reply.status, 500);
  assert.equal(reply.body.error, "handler 'badshape' answered output 'y' of shape [1,8]; it declares [1,16]");
});

test('a JSON handler as an InferenceGraph step: tensors in as its fields, its answer’s fields out as tensors, equal to calling it by hand', async () => {
  const inputs = [
    { ...a, name: 'INPUT0' },
    { ...b, name: 'INPUT1' },
  ];
  assert.deepEqual(await http.modelMetadata('json_step'), {
    name: 'json_step',
    versions: ['1'],
    platform: 'inference_graph',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] },
      { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] },
    ],
    outputs: [
      { name: 'total', datatype: 'FP64', shape: [1] },
      { name: 'count', datatype: 'INT64', shape: [1] },
      { name: 'sums', datatype: 'FP64', shape: [-1] },
      { name: 'request', datatype: 'BYTES', shape: [1] },
      { name: 'big', datatype: 'BOOL', shape: [1] },
    ],
  });
  const first = await http.infer('simple', inputs);
  const rows = [values(first.output('OUTPUT0')).slice(0, 16), values(first.output('OUTPUT0')).slice(16)];
  const byHand = await post(`${server.url}/api/models/jsonstats/predict`, { rows }, { 'x-request-id': 'json-1' });
  assert.equal(byHand.status, 200);
  const graph = await post(
    `${server.url}/v2/models/json_step/infer`,
    { inputs: inputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape, data: values(t) })) },
    { 'x-request-id': 'json-1' },
  );
  assert.equal(graph.status, 200);
  const out = new Map((graph.body.outputs as Array<{ name: string; datatype: string; shape: number[]; data: unknown[] }>).map((t) => [t.name, t]));
  assert.deepEqual(out.get('total'), { name: 'total', datatype: 'FP64', shape: [1], data: [byHand.body.total] });
  assert.deepEqual(out.get('count'), { name: 'count', datatype: 'INT64', shape: [1], data: [2] });
  assert.deepEqual(out.get('sums'), { name: 'sums', datatype: 'FP64', shape: [2], data: byHand.body.sums });
  assert.deepEqual(out.get('request')?.data, ['json-1']);
  assert.deepEqual(out.get('big')?.data, [byHand.body.big]);
  assert.match(graph.headers.get('server-timing') ?? '', /step\.first;dur=[\d.]+, step\.stats;dur=[\d.]+/);
});

