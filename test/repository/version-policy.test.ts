import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { selectVersions } from '../../src/repository/version-policy.js';

describe('selectVersions', () => {
  test('latest 1 (the default policy) serves the highest version', () => {
    assert.deepEqual(selectVersions({ kind: 'latest', numVersions: 1 }, [1, 2, 10]), [10]);
  });

  test('latest N serves the N highest, ascending', () => {
    assert.deepEqual(selectVersions({ kind: 'latest', numVersions: 2 }, [1, 2, 3, 10]), [3, 10]);
  });

  test('latest N with fewer than N on disk serves all of them', () => {
    assert.deepEqual(selectVersions({ kind: 'latest', numVersions: 5 }, [2, 4]), [2, 4]);
  });

  test('all serves every version, ascending', () => {
    assert.deepEqual(selectVersions({ kind: 'all' }, [3, 1, 2]), [1, 2, 3]);
  });

  test('specific serves only the listed versions that are on disk', () => {
    assert.deepEqual(selectVersions({ kind: 'specific', versions: [1, 3, 7] }, [1, 2, 3, 4]), [1, 3]);
  });

  test('specific with none of its versions on disk serves nothing', () => {
    assert.deepEqual(selectVersions({ kind: 'specific', versions: [9] }, [1, 2]), []);
  });

  test('unsorted input is sorted numerically (10 after 9, not after 1)', () => {
    assert.deepEqual(selectVersions({ kind: 'latest', numVersions: 2 }, [10, 1, 9, 2]), [9, 10]);
    assert.deepEqual(selectVersions({ kind: 'all' }, [10, 1, 9, 2]), [1, 2, 9, 10]);
    assert.deepEqual(selectVersions({ kind: 'specific', versions: [10, 2] }, [10, 1, 9, 2]), [2, 10]);
  });

  test('no versions on disk serves nothing under any policy', () => {
    assert.deepEqual(selectVersions({ kind: 'latest', numVersions: 1 }, []), []);
    assert.deepEqual(selectVersions({ kind: 'all' }, []), []);
    assert.deepEqual(selectVersions({ kind: 'specific', versions: [1] }, []), []);
  });

  test('the input array is not modified', () => {
    const available = [3, 1, 2];
    selectVersions({ kind: 'all' }, available);
    assert.deepEqual(available, [3, 1, 2]);
  });
});
