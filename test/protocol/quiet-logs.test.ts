// Clients choose how often they cause a 503 (an unloaded model, a crash, a deadline): the audit saw
// 14,600 error lines with stacks in 2 s. Errors a client can cause are logged once per code per
// interval; request lines are bounded per second; the rest are counted in a metric.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Metadata, credentials, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadServices } from '../../src/protocol/grpc/proto.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { TEST_MODELS } from '../helpers/paths.js';
import { startProtocolServer, type ProtocolServer } from '../helpers/protocol-server.js';
import { parsePrometheusText, sample } from '../helpers/prometheus-text.js';

const REQUEST_LINES_PER_SECOND = 5;
const { logger, lines } = captureLogger('info');
let server: ProtocolServer;
let client: Client;

before(async () => {
  server = await startProtocolServer({ models: [TEST_MODELS], logger, requestLogPerSecond: REQUEST_LINES_PER_SECOND });
  client = new (loadServices().inference)(server.grpcAddress, credentials.createInsecure());
  await server.slipway.unloadModel('identity_fp32');
});
after(async () => {
  client.close();
  await server.close();
});

const body = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1], data: [1] }] });

test('1000 client-caused 503s over HTTP and gRPC write a bounded number of lines, none at error level', async () => {
  const first = lines.length;
  const started = performance.now();
  for (let round = 0; round < 20; round++) {
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        const response = await fetch(`${server.url}/v2/models/identity_fp32/infer`, { method: 'POST', body });
        assert.equal(response.status, 503);
        await response.arrayBuffer();
        const error = await new Promise<ServiceError | null>((resolve) =>
          (client as unknown as Record<string, (r: object, m: Metadata, cb: (e: ServiceError | null) => void) => void>).ModelInfer!(
            { model_name: 'identity_fp32', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: ['1', '1'], contents: { fp32_contents: [1] } }] },
            new Metadata(),
            resolve,
          ),
        );
        assert.equal(error?.code, status.UNAVAILABLE);
      }),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  const written = lines.slice(first);
  assert.equal(written.filter((l) => (l.level as number) >= 50).length, 0, 'no error-level lines');
  // One warn line per error code per 10 s, HTTP and gRPC together (the run may straddle a window).
  const warns = written.filter((l) => l.level === 40);
  assert.ok(warns.length >= 1 && warns.length <= 2 * Math.ceil(seconds / 10 + 1), `${warns.length} warn lines`);
  assert.ok(warns.every((l) => l.code === 'MODEL_NOT_READY' && l.err === undefined), 'warn lines carry the code, no stack');
  // Request lines: at most REQUEST_LINES_PER_SECOND per protocol per started second.
  const requestLines = written.filter((l) => l.level === 30);
  const bound = 2 * REQUEST_LINES_PER_SECOND * Math.ceil(seconds + 1);
  assert.ok(requestLines.length > 0 && requestLines.length <= bound, `${requestLines.length} request lines for 1000 requests in ${seconds.toFixed(1)} s (bound ${bound})`);
  assert.ok(written.length < 100, `${written.length} lines in all`);

  const samples = parsePrometheusText(await server.slipway.metrics!.exposition());
  const droppedRequests = sample(samples, 'slipway_log_lines_suppressed_total', { kind: 'request' });
  const droppedErrors = sample(samples, 'slipway_log_lines_suppressed_total', { kind: 'MODEL_NOT_READY' });
  assert.equal(droppedRequests + requestLines.length, 1000, 'every request line is written or counted');
  assert.equal(droppedErrors + warns.length, 1000, 'every client-caused error is logged or counted');
});
