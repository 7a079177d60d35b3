import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ctcAlphabet, ctcGreedyDecode } from '../../../../examples/models/ocr/ctc-decode.js';

// Classes: 0 blank, 1 'a', 2 'b', 3 space.
const alphabet = ctcAlphabet('a\nb\n');
const BLANK = 0;
const A = 1;
const B = 2;

/** One sequence: each step puts `p` on its class and `space` on the space class, the rest on the others. */
function steps(classes: Array<number | [number, number]>, p = 0.9): Float32Array {
  const out = new Float32Array(classes.length * 4);
  classes.forEach((step, t) => {
    const [best, space] = Array.isArray(step) ? step : [step, 0];
    const others = [0, 1, 2].filter((c) => c !== best);
    for (const c of others) out[t * 4 + c] = (1 - p - space) / others.length;
    out[t * 4 + best] = p;
    if (best !== 3) out[t * 4 + 3] = space;
  });
  return out;
}

describe('ctcAlphabet', () => {
  test('blank, the dictionary lines, then a space', () => {
    assert.deepEqual(ctcAlphabet('x\r\ny\nz'), ['', 'x', 'y', 'z', ' ']);
    assert.deepEqual(alphabet, ['', 'a', 'b', ' ']);
  });
});

describe('ctcGreedyDecode', () => {
  test('merges repeats, drops blanks, and a blank between repeats keeps both', () => {
    const [decoded] = ctcGreedyDecode(steps([A, A, BLANK, A, B, B, BLANK]), 1, 7, 4, alphabet);
    assert.equal(decoded!.text, 'aab');
    assert.ok(Math.abs(decoded!.confidence - 0.9) < 1e-6);
  });

  test('a space that wins is kept', () => {
    assert.equal(ctcGreedyDecode(steps([A, 3, B]), 1, 3, 4, alphabet)[0]!.text, 'a b');
  });

  test('space probability in a gap puts a space there when asked', () => {
    const probabilities = steps([A, BLANK, [BLANK, 0.03], BLANK, B, [BLANK, 0.001], A]);
    assert.equal(ctcGreedyDecode(probabilities, 1, 7, 4, alphabet)[0]!.text, 'aba');
    assert.equal(ctcGreedyDecode(probabilities, 1, 7, 4, alphabet, { spaceThreshold: 0.01 })[0]!.text, 'a ba');
    assert.equal(ctcGreedyDecode(probabilities, 1, 7, 4, alphabet, { spaceThreshold: 0.0005 })[0]!.text, 'a b a');
    // No leading space, however likely.
    assert.equal(ctcGreedyDecode(steps([[BLANK, 0.05], A]), 1, 2, 4, alphabet, { spaceThreshold: 0.01 })[0]!.text, 'a');
  });

  test('decodes a batch; an all-blank line is empty with confidence 0', () => {
    const batch = new Float32Array([...steps([A, B]), ...steps([BLANK, BLANK])]);
    assert.deepEqual(ctcGreedyDecode(batch, 2, 2, 4, alphabet).map((d) => d.text), ['ab', '']);
    assert.equal(ctcGreedyDecode(batch, 2, 2, 4, alphabet)[1]!.confidence, 0);
  });

  test('refuses shapes that do not fit', () => {
    assert.throws(() => ctcGreedyDecode(new Float32Array(7), 1, 2, 4, alphabet), /7 values do not make \[1, 2, 4\]/);
    assert.throws(() => ctcGreedyDecode(new Float32Array(10), 1, 2, 5, alphabet), /alphabet has 4 classes but the model outputs 5/);
  });
});
