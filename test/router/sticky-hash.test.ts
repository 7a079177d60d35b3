import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pickSticky, pickWeighted, type VersionWeight } from '../../src/router/sticky-hash.js';
import { chooseVersion, policyFromConfig } from '../../src/router/traffic-policy.js';

const split = (a: number, b: number): VersionWeight[] => [
  { version: 1, weight: a },
  { version: 2, weight: b },
];
const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

test('without a key, 20 000 requests at 90/10 land within ±1 point of 10%', () => {
  const policy = policyFromConfig({ weights: { 1: 90, 2: 10 } }, 'config');
  let candidate = 0;
  for (let i = 0; i < 20_000; i++) if (chooseVersion(policy, () => true, undefined) === 2) candidate++;
  const share = (candidate / 20_000) * 100;
  assert.ok(Math.abs(share - 10) <= 1, `${share.toFixed(2)}% went to version 2`);
});

test('a sticky key keeps its version while the weights hold, and the keys split by weight', () => {
  const weights = split(90, 10);
  const first = keys.map((k) => pickSticky(k, weights));
  for (let round = 0; round < 3; round++) assert.deepEqual(keys.map((k) => pickSticky(k, weights)), first);
  const share = (first.filter((v) => v === 2).length / keys.length) * 100;
  assert.ok(Math.abs(share - 10) <= 1, `${share.toFixed(2)}% of the keys are on version 2`);
});

test('moving the candidate from 10% to 25% moves only keys to it, about 15% of them (never more than 16%)', () => {
  const before = keys.map((k) => pickSticky(k, split(90, 10)));
  const after = keys.map((k) => pickSticky(k, split(75, 25)));
  let moved = 0;
  for (let i = 0; i < keys.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    assert.equal(before[i], 1, 'a key on the candidate never leaves it when its weight grows');
  }
  const share = (moved / keys.length) * 100;
  assert.ok(share <= 16 && share >= 14, `${share.toFixed(2)}% of the keys moved`);
  // …and the whole way up, a key that reached the candidate stays there.
  let previous = after;
  for (const percent of [50, 100]) {
    const next = keys.map((k) => pickSticky(k, split(100 - percent, percent)));
    for (let i = 0; i < keys.length; i++) if (previous[i] === 2) assert.equal(next[i], 2);
    previous = next;
  }
  assert.ok(previous.every((v) => v === 2));
});

test('three versions: growing one moves keys only to it, and the others keep theirs', () => {
  const three = (a: number, b: number, c: number): VersionWeight[] => [
    { version: 1, weight: a },
    { version: 2, weight: b },
    { version: 3, weight: c },
  ];
  const before = keys.map((k) => pickSticky(k, three(60, 30, 10)));
  // Version 3 doubles its weight; 1 and 2 keep their ratio (2:1).
  const after = keys.map((k) => pickSticky(k, three(54, 27, 20)));
  let moved = 0;
  for (let i = 0; i < keys.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    assert.equal(after[i], 3, 'keys move only to the version that grew');
  }
  const expected = (20 / 101 - 10 / 100) * 100;
  assert.ok(Math.abs((moved / keys.length) * 100 - expected) < 1, `${((moved / keys.length) * 100).toFixed(2)}% moved, expected about ${expected.toFixed(2)}%`);
  const shares = [1, 2, 3].map((v) => after.filter((x) => x === v).length / keys.length);
  assert.ok(Math.abs(shares[0]! - 54 / 101) < 0.015 && Math.abs(shares[1]! - 27 / 101) < 0.015 && Math.abs(shares[2]! - 20 / 101) < 0.015, shares.join(', '));
});

test('a version that drops out (unloaded, or weight 0) gives away only its own keys', () => {
  const all: VersionWeight[] = [
    { version: 1, weight: 50 },
    { version: 2, weight: 30 },
    { version: 3, weight: 20 },
  ];
  const before = keys.map((k) => pickSticky(k, all));
  const after = keys.map((k) => pickSticky(k, all.filter((w) => w.version !== 2)));
  for (let i = 0; i < keys.length; i++) if (before[i] !== 2) assert.equal(after[i], before[i]);
  // chooseVersion leaves out versions that are not usable the same way.
  const policy = policyFromConfig({ weights: { 1: 50, 2: 30, 3: 20 } }, 'admin');
  for (const key of keys.slice(0, 500)) {
    const was = chooseVersion(policy, () => true, key);
    const now = chooseVersion(policy, (v) => v !== 2, key);
    if (was !== 2) assert.equal(now, was);
    else assert.notEqual(now, 2);
  }
});

test('weights of zero, and no usable version, choose nothing', () => {
  assert.equal(pickSticky('k', [{ version: 1, weight: 0 }]), undefined);
  assert.equal(pickWeighted([{ version: 1, weight: 0 }]), undefined);
  assert.equal(chooseVersion(policyFromConfig({ weights: { 1: 90, 2: 10 } }, 'config'), () => false, 'k'), undefined);
  assert.equal(pickWeighted(split(90, 10), () => 0.95), 2);
  assert.equal(pickWeighted(split(90, 10), () => 0.5), 1);
});
