// Greedy CTC decoding of PaddleOCR's recognizer output: the most likely class per time step, runs
// of one class merged, blanks dropped. The classes are the blank (0), the dictionary's lines
// (1..N) and a space (N + 1), as PaddleOCR's CTCLabelDecode with use_space_char.

export interface DecodedText {
  text: string;
  /** Mean probability of the characters kept (0 for an empty line), as PaddleOCR reports it. */
  confidence: number;
}

/** The class list: blank, then the dictionary's characters, then a space. */
export function ctcAlphabet(dictionary: string): string[] {
  const keys = dictionary.split(/\r?\n/);
  if (keys.at(-1) === '') keys.pop();
  return ['', ...keys, ' '];
}

export interface CtcOptions {
  /**
   * A space goes between two characters when the space class reaches this probability anywhere in
   * the gap between them, even though the blank won there. PP-OCRv4's Chinese model seldom lets the
   * space win outright on English text (PaddleOCR issue #11386), but it does put probability on it
   * at word gaps, and almost none inside words. 1 (or more) turns this off: pure greedy decoding.
   */
  spaceThreshold?: number;
}

/**
 * Decodes `batch` sequences of `steps` time steps over `classes` probabilities each
 * (row-major `[batch, steps, classes]`, as the recognizer outputs them).
 */
export function ctcGreedyDecode(
  probabilities: Float32Array,
  batch: number,
  steps: number,
  classes: number,
  alphabet: readonly string[],
  options: CtcOptions = {},
): DecodedText[] {
  if (probabilities.length !== batch * steps * classes) {
    throw new RangeError(`ctcGreedyDecode: ${probabilities.length} values do not make [${batch}, ${steps}, ${classes}]`);
  }
  if (alphabet.length !== classes) {
    throw new RangeError(`ctcGreedyDecode: the alphabet has ${alphabet.length} classes but the model outputs ${classes}`);
  }
  const space = alphabet.lastIndexOf(' ');
  const spaceThreshold = options.spaceThreshold ?? 1;
  const results: DecodedText[] = [];
  for (let b = 0; b < batch; b++) {
    let text = '';
    let sum = 0;
    let kept = 0;
    let previous = -1;
    let gapSpace = 0;
    for (let t = 0; t < steps; t++) {
      const offset = (b * steps + t) * classes;
      let best = 0;
      let bestP = probabilities[offset]!;
      for (let c = 1; c < classes; c++) {
        const p = probabilities[offset + c]!;
        if (p > bestP) {
          bestP = p;
          best = c;
        }
      }
      if (best !== 0 && best !== previous) {
        const char = alphabet[best]!;
        if (gapSpace >= spaceThreshold && best !== space && text !== '' && !text.endsWith(' ')) text += ' ';
        text += char;
        sum += bestP;
        kept += 1;
        gapSpace = 0;
      } else if (space >= 0) {
        gapSpace = Math.max(gapSpace, probabilities[offset + space]!);
      }
      previous = best;
    }
    results.push({ text, confidence: kept === 0 ? 0 : sum / kept });
  }
  return results;
}
