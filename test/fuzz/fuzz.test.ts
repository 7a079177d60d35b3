// The fuzzing suite at CI size: a fixed seed, a few thousand malformed requests over JSON, binary
// tensors and gRPC against a real server. `npm run fuzz` runs the same cases by the hundred thousand
// (any seed) against a server in its own process and reports RSS too.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@grpc/grpc-js';
import { fuzzGrpc, fuzzHttp, rawGrpcClient, type FuzzSummary } from './fuzz-driver.js';
import { httpCase } from './fuzz-cases.js';
import { TEST_MODELS } from '../helpers/paths.js';
import { startProtocolServer, type ProtocolServer } from '../helpers/protocol-server.js';
import { post } from '../helpers/test-server.js';

const SEED = Number(process.env.SLIPWAY_FUZZ_SEED ?? 18);
const HTTP_CASES = Number(process.env.SLIPWAY_FUZZ_HTTP ?? 2500);
const GRPC_CASES = Number(process.env.SLIPWAY_FUZZ_GRPC ?? 1000);

let server: ProtocolServer;
let client: Client;

before(async () => {
  server = await startProtocolServer({ models: [TEST_MODELS], requestLogPerSecond: 0 });
  client = rawGrpcClient(server.grpcAddress);
});
after(async () => {
  client.close();
  await server.close();
});

function report(summary: FuzzSummary): string {
  const shown = summary.failures.slice(0, 10).map((f) => `  case ${f.index} (seed ${f.seed}, ${f.mutation}): ${f.problem}`);
  return `${summary.failures.length} failures of ${summary.sent}; statuses ${JSON.stringify(summary.byStatus)}\n${shown.join('\n')}`;
}

async function stillServes(): Promise<void> {
  const reply = await post(`${server.url}/v2/models/identity_fp32/infer`, { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1.5, -2] }] });
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.body.outputs[0].data, [1.5, -2]);
}

test('the cases are reproducible from seed and index, and varied', () => {
  assert.deepEqual(httpCase(SEED, 42), httpCase(SEED, 42));
  const mutations = new Set(Array.from({ length: 300 }, (_, i) => httpCase(SEED, i).mutation.split(':')[0]!.split(' ')[0]));
  assert.ok(mutations.size >= 6, [...mutations].join(', '));
});

test(`${HTTP_CASES} malformed HTTP requests: no 5xx but 503/504, JSON error bodies, bounded answers`, async () => {
  const summary = await fuzzHttp(server.url, SEED, HTTP_CASES, { concurrency: 8 });
  assert.deepEqual(summary.failures, [], report(summary));
  // Most cases must be refused: a suite whose mutations all pass would test nothing.
  const refused = Object.entries(summary.byStatus).filter(([s]) => Number(s) >= 400).reduce((n, [, v]) => n + v, 0);
  assert.ok(refused > summary.sent / 2, JSON.stringify(summary.byStatus));
  await stillServes();
});

test(`${GRPC_CASES} malformed gRPC requests: never INTERNAL/UNKNOWN, bounded details`, async () => {
  const summary = await fuzzGrpc(client, SEED, GRPC_CASES, { concurrency: 8 });
  assert.deepEqual(summary.failures, [], report(summary));
  assert.ok((summary.byStatus.INVALID_ARGUMENT ?? 0) > 0, JSON.stringify(summary.byStatus));
  await stillServes();
});
