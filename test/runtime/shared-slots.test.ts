import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SharedSlots, SLOT_FREE, SLOT_REQUEST, SLOT_RESPONSE, SLOT_RUNNING } from '../../src/runtime/shared-slots.js';
import type { Tensor } from '../../src/tensor/tensor.js';

describe('SharedSlots', () => {
  test('a request written on one side reads back whole on the other, in its own unshared buffers', () => {
    const main = SharedSlots.create(2, 4096);
    const worker = SharedSlots.attach(main.buffer, main.count, main.dataBytes);
    const base = new Float32Array(16).map((_, i) => i + 0.5);
    const tensors: Tensor[] = [
      // A view into a larger buffer, at an odd byte offset for its width: only its own bytes go over.
      { name: 'x', datatype: 'FP32', shape: [2, 3], data: base.subarray(3, 9) },
      { name: 'ids', datatype: 'INT64', shape: [3], data: BigInt64Array.from([1n, -2n, 3n]) },
      { name: 'flag', datatype: 'BOOL', shape: [1], data: Uint8Array.from([1]) },
    ];
    assert.ok(main.write(1, 42, tensors, ['y', 'z']));
    main.post(1);
    assert.equal(worker.take(), 1);
    assert.equal(worker.take(), undefined, 'a slot is taken once');
    const read = worker.read(1);
    assert.equal(read.id, 42);
    assert.deepEqual(read.outputNames, ['y', 'z']);
    assert.deepEqual(read.outputs.map((t) => [t.name, t.datatype, t.shape]), [['x', 'FP32', [2, 3]], ['ids', 'INT64', [3]], ['flag', 'BOOL', [1]]]);
    assert.deepEqual([...(read.outputs[0]!.data as Float32Array)], [3.5, 4.5, 5.5, 6.5, 7.5, 8.5]);
    assert.deepEqual([...(read.outputs[1]!.data as BigInt64Array)], [1n, -2n, 3n]);
    for (const t of read.outputs) assert.ok((t.data as Uint8Array).buffer instanceof ArrayBuffer, 'copied out of shared memory');
  });

  test('an answer carries the worker timings and flips the slot to RESPONSE', () => {
    const main = SharedSlots.create(1, 64);
    assert.ok(main.write(0, 7, [{ name: 'y', datatype: 'FP32', shape: [1], data: Float32Array.from([2]) }], [], 1000.25, 1000.5));
    assert.equal(main.state(0), SLOT_FREE);
    main.post(0);
    assert.equal(main.state(0), SLOT_REQUEST);
    assert.equal(main.take(), 0);
    assert.equal(main.state(0), SLOT_RUNNING);
    main.answer(0);
    assert.equal(main.state(0), SLOT_RESPONSE);
    const read = main.read(0);
    assert.deepEqual([read.startedMs, read.endedMs], [1000.25, 1000.5]);
  });

  test('what does not fit is refused (the caller falls back to a message)', () => {
    const slots = SharedSlots.create(1, 64);
    assert.equal(slots.write(0, 1, [{ name: 'x', datatype: 'FP32', shape: [17], data: new Float32Array(17) }]), false, '68 bytes > 64');
    assert.equal(slots.write(0, 1, [{ name: 'x', datatype: 'FP32', shape: [16], data: new Float32Array(16) }]), true, '64 bytes fit');
    assert.equal(slots.write(0, 1, [{ name: 's', datatype: 'BYTES', shape: [1], data: ['text'] }]), false, 'strings never go in a slot');
    assert.equal(slots.write(0, 1, [{ name: 'n'.repeat(5000), datatype: 'FP32', shape: [1], data: new Float32Array(1) }]), false, 'description too long');
    // Two 4-byte tensors take 8 bytes each (aligned): 9 of them need 72.
    const nine = Array.from({ length: 9 }, (_, i): Tensor => ({ name: `t${i}`, datatype: 'FP32', shape: [1], data: new Float32Array(1) }));
    assert.equal(slots.write(0, 1, nine), false);
    assert.equal(slots.write(0, 1, nine.slice(0, 8)), true);
  });

  test('the slot count is bounded by the control block', () => {
    assert.throws(() => SharedSlots.create(0, 64), /slot count/);
    assert.throws(() => SharedSlots.create(1000, 64), /slot count/);
  });
});
