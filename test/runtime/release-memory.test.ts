import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectGarbage } from '../../src/runtime/release-memory.js';

test('collectGarbage reaches V8 without --expose-gc and frees what nothing references', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the test runs without --expose-gc');
  let big: Float64Array | undefined = new Float64Array(4 * 1024 * 1024);
  const ref = new WeakRef(big);
  big = undefined;
  // A WeakRef's target survives at least until the current job ends.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(collectGarbage(), true);
  assert.equal(ref.deref(), undefined, 'the unreferenced 32 MB array is gone after the collection');
});
