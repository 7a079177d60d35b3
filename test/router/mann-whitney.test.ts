import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mannWhitneyGreater, normalSurvival, proportionGreater } from '../../src/router/mann-whitney.js';
import { prng } from '../helpers/batch-data.js';

// Reference values from SciPy 1.17 (scipy.stats.mannwhitneyu(..., alternative='greater',
// method='asymptotic', use_continuity=True) and scipy.stats.norm.sf), computed once offline.
const X = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
const Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
// Latencies with many ties (rounded to 0.1): lognormal(0, 0.5) and lognormal(0.3, 0.5), Python's random.seed(1).
const STABLE = [1.4, 1.0, 1.9, 1.7, 0.8, 1.8, 0.7, 0.9, 0.7, 0.6, 1.9, 1.2, 0.6, 1.9, 1.9, 2.4, 0.7, 1.0, 0.6, 1.5, 0.5, 1.7, 0.8, 1.0, 1.0, 1.0, 0.9, 1.1, 1.7, 1.5, 1.3, 1.1, 0.6, 1.7, 1.1, 1.1, 1.0, 0.8, 1.1, 1.2, 0.5, 0.3, 1.2, 1.3, 0.4, 0.9, 0.5, 0.7, 1.4, 0.7, 0.5, 0.9, 1.0, 1.6, 0.3, 0.4, 1.4, 1.7, 0.5, 0.8];
const SLOWER = [0.9, 0.8, 0.4, 1.9, 1.5, 1.9, 1.1, 0.6, 1.3, 0.5, 1.0, 0.4, 0.9, 1.1, 3.4, 2.4, 3.9, 0.5, 0.6, 0.9, 2.1, 2.4, 2.1, 1.1, 3.0, 0.7, 0.9, 2.0, 1.5, 0.8, 2.9, 2.6, 0.6, 1.6, 0.8, 2.8, 0.9, 0.6, 2.2, 0.9, 0.5, 2.4, 1.6, 1.1, 0.7, 2.2, 0.9, 1.1, 0.8, 2.9, 1.9, 2.5, 1.1, 0.5, 2.2, 1.0, 1.6, 1.1, 1.4, 0.5, 0.6, 1.3, 0.7, 1.8, 2.0, 0.7, 2.2, 4.3, 1.6, 1.3, 2.4, 1.1, 1.5, 2.3, 1.2, 1.7, 1.4, 1.2, 0.9, 2.2];

const close = (actual: number, expected: number, relative = 1e-5) =>
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${actual} is not within ${relative} of ${expected}`);

test('Mann-Whitney U matches SciPy: U and the one-sided p-value, with and without ties', () => {
  const small = mannWhitneyGreater(X, Y);
  assert.equal(small.u, 58);
  close(small.p, 0.06645972909265946);
  const tied = mannWhitneyGreater(SLOWER, STABLE);
  assert.equal(tied.u, 3044.5);
  close(tied.p, 0.003301777107655854);
  close(mannWhitneyGreater(STABLE, SLOWER).p, 0.9967400483348282);
  close(tied.effect, 3044.5 / (80 * 60));
});

test("Mann-Whitney's normal approximation stays close to the exact permutation p-value (n = 8 each)", () => {
  const random = prng(11);
  const x = Array.from({ length: 8 }, () => Math.round(random() * 1000) + 300);
  const y = Array.from({ length: 8 }, () => Math.round(random() * 1000));
  const all = [...x, ...y];
  const observed = mannWhitneyGreater(x, y).u;
  // Every way of choosing which 8 of the 16 values are "x": C(16, 8) = 12 870.
  let atLeast = 0;
  let total = 0;
  const choose = (start: number, picked: number[]): void => {
    if (picked.length === 8) {
      const px = picked.map((i) => all[i]!);
      const py = all.filter((_, i) => !picked.includes(i));
      total++;
      if (mannWhitneyGreater(px, py).u >= observed) atLeast++;
      return;
    }
    for (let i = start; i <= 16 - (8 - picked.length); i++) choose(i + 1, [...picked, i]);
  };
  choose(0, []);
  assert.equal(total, 12870);
  const exact = atLeast / total;
  assert.ok(Math.abs(mannWhitneyGreater(x, y).p - exact) < 0.01, `approximate ${mannWhitneyGreater(x, y).p} vs exact ${exact}`);
});

test('identical samples, all-tied samples and empty samples are no evidence', () => {
  assert.ok(mannWhitneyGreater(STABLE, STABLE).p > 0.4);
  assert.equal(mannWhitneyGreater([5, 5, 5], [5, 5, 5]).p, 1);
  assert.equal(mannWhitneyGreater([], [1, 2]).p, 1);
});

test('the two-proportion test and the normal tail match SciPy', () => {
  close(proportionGreater(12, 100, 3, 900).z, 9.105510501284465);
  close(proportionGreater(12, 100, 3, 900).p, 4.293083780039906e-20, 1e-4);
  assert.equal(proportionGreater(0, 100, 0, 900).p, 1, 'no failures anywhere: no evidence');
  assert.ok(proportionGreater(1, 100, 9, 900).p > 0.4, 'the same rate is no evidence');
  close(normalSurvival(1.96), 0.024997895148220435);
  close(normalSurvival(-0.5), 0.6914624612740131);
  close(normalSurvival(4), 3.167124183311986e-5, 1e-4);
});
