import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Metadata, credentials, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { AccessKeys } from '../../../src/protocol/access/access-keys.js';
import { GrpcServer } from '../../../src/protocol/grpc/grpc-server.js';
import { loadServices } from '../../../src/protocol/grpc/proto.js';
import { BINARY_PEAK_PER_BODY_BYTE } from '../../../src/protocol/http/request-bytes-admission.js';
import { InflightBudget } from '../../../src/scheduler/inflight-budget.js';
import { Slipway } from '../../../src/slipway.js';
import { EXAMPLES, TEST_MODELS } from '../../helpers/paths.js';

const KEY = 'inference-key-0001';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- replies are checked field by field
type Reply = any;

/** Records every charge against it, and tells whoever waits for a charge of at least some bytes. */
class WatchedBudget extends InflightBudget {
  charges = 0;
  waiting: { bytes: number; resolve: () => void } | undefined;
  override tryAcquire(bytes: number): boolean {
    this.charges++;
    const taken = super.tryAcquire(bytes);
    if (taken && this.waiting !== undefined && bytes >= this.waiting.bytes) this.waiting.resolve();
    return taken;
  }
  charged(bytes: number): Promise<void> {
    return new Promise((resolve) => (this.waiting = { bytes, resolve }));
  }
}

let slipway: Slipway;
let server: GrpcServer;
let client: Client;
const budget = new WatchedBudget(64 * 1024 * 1024);

before(async () => {
  slipway = await Slipway.open({ models: [`${TEST_MODELS}/identity_fp32`, `${EXAMPLES}/ocr_cls`], cores: 2 });
  server = new GrpcServer(slipway, { inflightBudget: budget, access: new AccessKeys({ keys: { inference: [KEY] } }) });
  const port = await server.listen('127.0.0.1', 0);
  const { inference } = loadServices();
  client = new inference(`127.0.0.1:${port}`, credentials.createInsecure());
});
after(async () => {
  client.close();
  await server.close(1000);
  await slipway.close();
});

function withKey(key = KEY): Metadata {
  const metadata = new Metadata();
  metadata.set('x-api-key', key);
  return metadata;
}

function start(request: object, metadata: Metadata): { reply: Promise<Reply>; cancel: () => void } {
  let cancel = (): void => undefined;
  const reply = new Promise<Reply>((resolve, reject) => {
    const pending = (client as unknown as Record<string, (r: object, m: Metadata, cb: (e: ServiceError | null, v: Reply) => void) => { cancel: () => void }>).ModelInfer!(request, metadata, (error, value) =>
      error ? reject(error) : resolve(value),
    );
    cancel = () => pending.cancel();
  });
  return { reply, cancel };
}

const call = (request: object, metadata: Metadata): Promise<Reply> => start(request, metadata).reply;

const rejection = (promise: Promise<unknown>): Promise<ServiceError> => promise.then(() => assert.fail('the call succeeded'), (e: ServiceError) => e);

/** An identity request with `floats` FP32 values in raw contents: a message a little over 4 bytes each. */
const identity = (floats: number) => ({ model_name: 'identity_fp32', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, floats] }], raw_input_contents: [Buffer.alloc(floats * 4)] });

const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('gRPC infer calls and the in-flight memory budget', () => {
  test('a call that does not fit is refused RESOURCE_EXHAUSTED with retry-after; its bytes are charged while it runs and given back after', async () => {
    // Others hold all but 1 MiB: a 1 MiB message (4 MiB expected at its peak) does not fit.
    const others = budget.limitBytes - 1024 * 1024;
    assert.ok(budget.tryAcquire(others));
    try {
      const refused = await rejection(call(identity(256 * 1024), withKey()));
      assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
      assert.match(refused.details, /memory budget for requests in flight \(max_inflight_bytes = 67108864\) is full/);
      assert.equal(refused.metadata.get('slipway-code')[0], 'MEMORY_BUDGET_EXCEEDED');
      assert.equal(refused.metadata.get('retry-after')[0], '1');
      assert.equal(budget.inUseBytes, others, 'a refused call holds nothing');
      // A small call still fits beside the others.
      const small = await call(identity(16), withKey());
      assert.equal(small.outputs[0].shape.map(Number).join(','), '1,16');
      assert.equal(budget.inUseBytes, others, 'given back once answered');
    } finally {
      budget.release(others);
    }
    const charges = budget.charges;
    assert.ok((await call(identity(256 * 1024), withKey())).outputs.length === 1, 'with the others gone the large call fits');
    assert.equal(budget.charges, charges + 1);
    assert.equal(budget.inUseBytes, 0);
  });

  test('a call without a valid key is refused UNAUTHENTICATED before it is charged', async () => {
    const charges = budget.charges;
    const refused = await rejection(call(identity(256 * 1024), withKey('wrong-key-0000001')));
    assert.equal(refused.code, status.UNAUTHENTICATED);
    assert.equal(budget.charges, charges);
    assert.equal(budget.inUseBytes, 0);
  });

  test('a cancelled call gives its bytes back at once, and only once', async () => {
    const others = 1000;
    assert.ok(budget.tryAcquire(others));
    try {
      // 16 wide OCR crops: 100 ms or more of compute, so the call is still running when cancelled.
      const rows = 16;
      const message = rows * 3 * 48 * 1024 * 4;
      const request = { model_name: 'ocr_cls', inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3, 48, 1024] }], raw_input_contents: [Buffer.alloc(message)] };
      const charged = budget.charged(message * BINARY_PEAK_PER_BODY_BYTE);
      const pending = start(request, withKey());
      await charged;
      assert.ok(budget.inUseBytes >= others + message * BINARY_PEAK_PER_BODY_BYTE, `${budget.inUseBytes} in use`);
      pending.cancel();
      assert.equal((await rejection(pending.reply)).code, status.CANCELLED);
      await until(() => budget.inUseBytes === others);
      const scheduler = slipway.repository.get('ocr_cls')!.versions.get(1)!.scheduler!;
      assert.ok(scheduler.inflight + scheduler.queueDepth > 0, 'given back at the cancel, while the model still runs');
      // When the model ends, the call gives nothing back twice.
      await until(() => scheduler.inflight + scheduler.queueDepth === 0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(budget.inUseBytes, others);
    } finally {
      budget.release(others);
    }
  });
});
