import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerMemoryLimitBytes, inflightBytesFor, maxConnectionsFor, openFilesLimit } from '../../src/config/process-limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 1048576              files
Max locked memory         8388608              8388608              bytes
`;

test('the open-files soft limit is read from /proc/self/limits; unlimited or unreadable is unknown', () => {
  assert.equal(openFilesLimit(LIMITS), 1024);
  assert.equal(openFilesLimit(LIMITS.replace('1024  ', 'unlimited')), undefined);
  assert.equal(openFilesLimit(undefined), undefined);
});

test('connections default to the descriptors left after the ones the server keeps for itself', () => {
  assert.equal(maxConnectionsFor(1024), 768);
  assert.equal(maxConnectionsFor(65536), 65280);
  assert.equal(maxConnectionsFor(100), 64, 'never below 64');
  assert.equal(maxConnectionsFor(undefined), 4096);
});

test("the container's memory limit comes from cgroup v2, else v1; 'max' and v1's huge number mean none", () => {
  assert.equal(containerMemoryLimitBytes('4294967296\n', undefined), 4 * 1024 ** 3);
  assert.equal(containerMemoryLimitBytes('max\n', undefined), undefined);
  assert.equal(containerMemoryLimitBytes(undefined, '2147483648\n'), 2 * 1024 ** 3);
  assert.equal(containerMemoryLimitBytes(undefined, '9223372036854771712\n'), undefined);
});

test('the in-flight budget is a quarter of the container limit, at most 1 GiB', () => {
  assert.equal(inflightBytesFor(2 * 1024 ** 3), 512 * 1024 ** 2);
  assert.equal(inflightBytesFor(16 * 1024 ** 3), 1024 ** 3);
  assert.equal(inflightBytesFor(undefined), 1024 ** 3);
});
