import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveHandlerConfig, type HandlerConfig } from '../../../src/config/handler-config.js';
import { ServingError } from '../../../src/errors/serving-error.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { HandlerInfer } from '../../../src/runtime/handler/handler-instance.js';
import type { HandlerWorkerData } from '../../../src/runtime/handler/handler-messages.js';
import { HandlerPool } from '../../../src/runtime/handler/handler-pool.js';
import type { InferenceRequest } from '../../../src/tensor/inference.js';
import { ROOT } from '../../helpers/paths.js';

const FIXTURES = `${ROOT}test/fixtures/handlers`;
const toolbox: HandlerWorkerData = {
  model: 'toolbox',
  file: `${FIXTURES}/toolbox/handler.ts`,
  dir: `${FIXTURES}/toolbox`,
  hasGraph: false,
  parameters: { greeting: 'hey' },
};

const config = (overrides: Partial<HandlerConfig> = {}): HandlerConfig => ({ ...resolveHandlerConfig(undefined), timeoutMs: 1500, ...overrides });

/** Stands in for the router: adds INPUT0 and INPUT1 as the `simple` model does, or fails as told. */
function fakeRouter(): { infer: HandlerInfer; calls: InferenceRequest[]; failWith: { error?: unknown } } {
  const calls: InferenceRequest[] = [];
  const failWith: { error?: unknown } = {};
  const infer: HandlerInfer = async (request) => {
    calls.push(request);
    if (failWith.error !== undefined) throw failWith.error;
    const a = request.inputs.find((t) => t.name === 'INPUT0')!.data as Int32Array;
    const b = request.inputs.find((t) => t.name === 'INPUT1')!.data as Int32Array;
    return {
      model_name: request.model,
      model_version: '1',
      outputs: [{ name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], data: a.map((v, i) => v + b[i]!) }],
    };
  };
  return { infer, calls, failWith };
}

const request = (body: unknown) => ({ kind: 'json' as const, body: new TextEncoder().encode(JSON.stringify(body)) });
const answer = async (pool: HandlerPool, body: unknown): Promise<Record<string, unknown>> =>
  JSON.parse(new TextDecoder().decode(await pool.predict(request(body)))) as Record<string, unknown>;
/** Retries while the pool recovers (a replacement worker takes a moment to start). */
async function eventually<T>(attempt: () => Promise<T>, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= tries || !(error instanceof ServingError) || error.code !== 'DEADLINE_EXCEEDED') throw error;
    }
  }
}
const rejectsWith = (code: string, pattern: RegExp = /./) => (e: unknown) => e instanceof ServingError && e.code === code && pattern.test(e.message);

describe('HandlerPool', () => {
  const router = fakeRouter();
  let pool: HandlerPool;
  before(async () => {
    pool = await HandlerPool.start({ worker: toolbox, config: config(), infer: router.infer, logger: silentLogger(), restartDelayMs: 10 });
  });
  after(() => pool.close());

  test('runs the handler with the setup state and config parameters', async () => {
    assert.deepEqual(await answer(pool, { action: 'echo', text: 'ab', repeat: 2 }), { text: 'hey abab' });
    const state = await answer(pool, { action: 'state' });
    assert.equal(state.setupCalls, 1);
    assert.equal(state.model, 'toolbox');
  });

  test('describes the handler from its schemas', () => {
    assert.equal(pool.description.mode, 'predict');
    assert.deepEqual(pool.description.fileFields, ['upload', 'picture']);
  });

  test('ctx.infer goes through the injected router, inputs moved, outputs returned', async () => {
    router.calls.length = 0;
    const numbers = Array.from({ length: 16 }, (_, i) => i * 10);
    const out = await answer(pool, { action: 'add', numbers, repeat: 2 });
    assert.deepEqual(out.sums, numbers.map((n) => n + 2));
    const call = router.calls[0]!;
    assert.equal(call.model, 'simple');
    assert.equal(call.transferInputs, true);
    assert.deepEqual(call.outputs, [{ name: 'OUTPUT0' }]);
    assert.deepEqual(call.inputs.map((t) => [t.name, t.datatype, t.shape]), [
      ['INPUT0', 'INT32', [1, 16]],
      ['INPUT1', 'INT32', [1, 16]],
    ]);
  });

  test('a model call refused for capacity passes its status on; one refused for its tensors is the handler’s bug (500)', async () => {
    try {
      router.failWith.error = new ServingError('QUEUE_FULL', 'model simple has 1024 requests queued');
      await assert.rejects(pool.predict(request({ action: 'add' })), rejectsWith('QUEUE_FULL', /model 'simple': model simple has 1024 requests queued/));
      router.failWith.error = new ServingError('INVALID_INPUT', "input 'INPUT0': wrong shape");
      await assert.rejects(pool.predict(request({ action: 'add' })), rejectsWith('HANDLER_FAILED', /a model call was refused: model 'simple': input 'INPUT0': wrong shape/));
      router.failWith.error = new Error('boom');
      await assert.rejects(pool.predict(request({ action: 'add' })), rejectsWith('HANDLER_FAILED', /internal server error/));
    } finally {
      router.failWith.error = undefined;
    }
  });

  test('invalid input, a throwing handler and bad output each answer with a clear error', async () => {
    await assert.rejects(pool.predict(request({ action: 'nope' })), rejectsWith('INVALID_INPUT', /^invalid input: action: /));
    await assert.rejects(pool.predict(request({ action: 'throw', text: 'x' })), rejectsWith('HANDLER_FAILED', /handler 'toolbox' failed: the handler refused 'x'/));
    await assert.rejects(pool.predict(request({ action: 'bad-output' })), rejectsWith('HANDLER_FAILED', /does not match its output schema: text: /));
    assert.deepEqual(await answer(pool, { action: 'echo', text: 'still here' }), { text: 'hey still here' });
  });

  test('a request that hangs asynchronously times out; the worker keeps serving', async () => {
    const before = await answer(pool, { action: 'state' });
    await assert.rejects(pool.predict(request({ action: 'hang' })), rejectsWith('DEADLINE_EXCEEDED', /did not answer within 1500 ms \(handler\.timeout_ms\)/));
    const after = await answer(pool, { action: 'state' });
    assert.equal(after.workerStartedAt, before.workerStartedAt, 'same worker');
  });

  test('a request that blocks its thread times out and its worker is replaced', async () => {
    const before = await answer(pool, { action: 'state' });
    await assert.rejects(pool.predict(request({ action: 'spin' })), rejectsWith('DEADLINE_EXCEEDED'));
    // Requests that arrive while the stuck worker is being replaced may time out themselves.
    const after = await eventually(() => answer(pool, { action: 'state' }));
    assert.notEqual(after.workerStartedAt, before.workerStartedAt, 'a new worker');
    assert.equal(after.setupCalls, 1, 'the new worker ran its own setup');
  });

  test('a worker that dies fails only its request and is restarted', async () => {
    await assert.rejects(pool.predict(request({ action: 'crash' })), rejectsWith('INSTANCE_FAILED', /handler worker of model 'toolbox' failed: handler worker exited with code 3/));
    assert.deepEqual(await answer(pool, { action: 'echo', text: 'back' }), { text: 'hey back' });
  });
});

describe('HandlerPool limits', () => {
  test('a full queue answers QUEUE_FULL at once; close() refuses new work', async () => {
    const pool = await HandlerPool.start({
      worker: toolbox,
      config: config({ maxConcurrency: 1, maxQueueSize: 1, timeoutMs: 1000 }),
      infer: fakeRouter().infer,
      logger: silentLogger(),
    });
    const running = pool.predict(request({ action: 'hang' }));
    const queued = pool.predict(request({ action: 'hang' }));
    await assert.rejects(pool.predict(request({ action: 'echo', text: 'x' })), (e: unknown) => e instanceof ServingError && e.code === 'QUEUE_FULL' && e.retryAfterSeconds === 1);
    // Both time out; the queued one may have started in the slot the first one freed a moment before.
    await Promise.all([assert.rejects(running, rejectsWith('DEADLINE_EXCEEDED')), assert.rejects(queued, rejectsWith('DEADLINE_EXCEEDED'))]);
    await pool.close();
    await assert.rejects(pool.predict(request({ action: 'echo', text: 'x' })), rejectsWith('MODEL_NOT_READY', /unloading/));
  });
});

describe('HandlerPool.start failures', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-handlers-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const start = (file: string, hasGraph = false) =>
    HandlerPool.start({
      worker: { model: 'm', file, dir: file.replace(/\/[^/]+$/, ''), hasGraph, parameters: {} },
      config: config(),
      infer: fakeRouter().infer,
      logger: silentLogger(),
    });

  test('setup() that throws', async () => {
    await assert.rejects(start(`${FIXTURES}/setup_fails/handler.ts`), /setup\(\) failed: the weights file is missing/);
  });

  test('preprocess/postprocess without a graph', async () => {
    await assert.rejects(start(`${FIXTURES}/preprocess_without_graph/handler.ts`), /no <version>\/model\.onnx; use `predict`/);
  });

  test('a TypeScript syntax error names the file and line', async () => {
    const file = join(dir, 'handler.ts');
    await writeFile(file, 'export default {\n  input: ,\n};\n');
    await assert.rejects(start(file), (e: Error) => e.message.includes(`${file}:2:9`) && /Unexpected ","/.test(e.message));
  });

  test('a module without a default export', async () => {
    const file = join(dir, 'handler.mjs');
    await writeFile(file, 'export const predict = () => ({});\n');
    await assert.rejects(start(file), /handler\.mjs must `export default defineHandler\(\{ input, output, predict \}\)`; its default export is undefined/);
  });
});
