/**
 * A scanner for the JSON Lines records batch jobs mostly read: one flat object per line whose values
 * are numbers, plain strings, booleans or null. It reads the fields a mapping bound straight out of the
 * line's bytes (numbers into a Float64Array, no string or object built), which is what lets JSONL feed
 * the model nearly as fast as CSV does: decoding each line and running `JSON.parse` on it costs about
 * 2.3 times the scanner's CPU time per 65-field record (bench/batch.ts), and the same scanner over
 * decoded strings (`charCodeAt`) was no faster than JSON.parse.
 *
 * It only ever accepts a line it can read exactly as `JSON.parse` would. Anything else (escapes in a
 * string, non-ASCII keys or strings, nested objects or arrays, whitespace other than spaces and tabs,
 * and every syntax error) makes `scan` return false, and the caller parses that line with `JSON.parse`,
 * so rejected lines get exactly JSON.parse's message. Duplicate keys follow JSON: the last one wins.
 * The tests compare it with JSON.parse on random records (test/batch/sources/jsonl-scanner.test.ts).
 */

/** What a field holds after a scan (`ScannedValues.kinds`). */
export const ABSENT = 0;
export const NUMBER = 1;
export const STRING = 2;
export const TRUE = 3;
export const FALSE = 4;
export const NULL = 5;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const SPACE = 0x20;
const TAB = 0x09;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Where scanned values go: `width` fields per row, `rows` rows. Reused from block to block, as the
 * CSV source reuses its token buffers.
 *
 * @example
 * const values = new ScannedValues(2, 1024); // two fields, a block of 1024 rows
 * values.value(0, 1); // row 0's second field: a number, string, boolean or null, or undefined when absent
 */
export class ScannedValues {
  readonly kinds: Uint8Array;
  readonly numbers: Float64Array;
  readonly strings: Array<string | undefined>;

  constructor(
    readonly width: number,
    rows: number,
  ) {
    this.kinds = new Uint8Array(width * rows);
    this.numbers = new Float64Array(width * rows);
    this.strings = new Array<string | undefined>(width * rows).fill(undefined);
  }

  /** The value of field `field` in row `row`, as JSON.parse would have given it (undefined when absent). */
  value(row: number, field: number): unknown {
    const at = row * this.width + field;
    switch (this.kinds[at]) {
      case NUMBER:
        return this.numbers[at];
      case STRING:
        return this.strings[at];
      case TRUE:
        return true;
      case FALSE:
        return false;
      case NULL:
        return null;
      default:
        return undefined;
    }
  }
}

// A number's value, handed from scanNumber to its caller without allocating.
let scannedNumber = 0;

/**
 * Scans one JSON number from `start` by JSON's grammar; returns where it ends, or -1 when the text there
 * is not a JSON number. The value (left in `scannedNumber`) is exactly JSON.parse's: with at most 15
 * significant digits and a power of ten of at most 22 either way, the integer mantissa and the power are
 * both exact doubles, so one multiplication or division rounds correctly (Clinger's fast path); any
 * other number is read by `Number` from its text, which JSON.parse's grammar is a subset of.
 */
function scanNumber(data: Buffer, start: number, computed: boolean): number {
  let i = start;
  let c = data[i]!;
  let negative = false;
  if (c === MINUS) {
    negative = true;
    c = data[++i]!;
  }
  let mantissa = 0;
  let significant = 0;
  let exact = true;
  let decimals = 0;
  if (c === ZERO) {
    c = data[++i]!;
    if (c >= ZERO && c <= NINE) return -1; // a leading zero
  } else if (c > ZERO && c <= NINE) {
    do {
      if (significant < 15) {
        mantissa = mantissa * 10 + (c - ZERO);
        significant++;
      } else exact = false;
      c = data[++i]!;
    } while (c >= ZERO && c <= NINE);
  } else return -1;
  if (c === DOT) {
    c = data[++i]!;
    if (!(c >= ZERO && c <= NINE)) return -1;
    do {
      if (mantissa === 0 && c === ZERO) decimals++; // zeros before the first significant digit
      else if (significant < 15) {
        mantissa = mantissa * 10 + (c - ZERO);
        significant++;
        decimals++;
      } else exact = false;
      c = data[++i]!;
    } while (c >= ZERO && c <= NINE);
  }
  let exponent = 0;
  if (c === LOWER_E || c === UPPER_E) {
    c = data[++i]!;
    let exponentNegative = false;
    if (c === MINUS || c === PLUS) {
      exponentNegative = c === MINUS;
      c = data[++i]!;
    }
    if (!(c >= ZERO && c <= NINE)) return -1;
    do {
      if (exponent < 100_000) exponent = exponent * 10 + (c - ZERO);
      c = data[++i]!;
    } while (c >= ZERO && c <= NINE);
    if (exponentNegative) exponent = -exponent;
  }
  if (!computed) return i;
  if (mantissa === 0 && exact) {
    scannedNumber = negative ? -0 : 0;
    return i;
  }
  const power = exponent - decimals;
  if (exact && power <= 22 && power >= -22) {
    const magnitude = power >= 0 ? mantissa * POWERS_OF_TEN[power]! : mantissa / POWERS_OF_TEN[-power]!;
    scannedNumber = negative ? -magnitude : magnitude;
  } else scannedNumber = Number(data.toString('latin1', start, i));
  return i;
}

/** Skips JSON whitespace as far as the scanner takes it: spaces and tabs (lines hold no line breaks). */
function skipSpace(data: Buffer, i: number): number {
  let c = data[i];
  while (c === SPACE || c === TAB) c = data[++i];
  return i;
}

/** True when `data` holds the ASCII `word` at `at`. */
function holds(data: Buffer, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (data[at + k] !== word.charCodeAt(k)) return false;
  return true;
}

/**
 * Scans flat JSON records for a fixed set of field names. Records usually repeat their keys in the same
 * order, so each key is first compared with the key the previous record had at the same place; only a
 * different key costs a map lookup.
 */
export class JsonlScanner {
  /** Distinct field names, in the order they were first given: a field's index in ScannedValues. */
  readonly fields: readonly string[];
  private readonly fieldOf = new Map<string, number>();
  private lastKeys: string[] = [];
  private lastFields: number[] = [];

  constructor(names: readonly string[]) {
    const fields: string[] = [];
    for (const name of names) {
      if (this.fieldOf.has(name)) continue;
      this.fieldOf.set(name, fields.length);
      fields.push(name);
    }
    this.fields = fields;
  }

  /** The field index a name was given (undefined for a name the scanner was not built with). */
  fieldIndex(name: string): number | undefined {
    return this.fieldOf.get(name);
  }

  /**
   * Reads the line `data[start, end)` (UTF-8, no line break inside; the byte at `end`, if any, is the
   * line break) into row `row` of `out`. Returns false, with that row's contents unspecified, when the
   * line is anything but a flat object it can read exactly; parse it with JSON.parse then.
   *
   * @example
   * const scanner = new JsonlScanner(['x']);
   * const values = new ScannedValues(scanner.fields.length, 1);
   * scanner.scan(Buffer.from('{"x": 2.5e1}'), 0, 12, values, 0); // true; values.value(0, 0) is 25
   */
  scan(data: Buffer, start: number, end: number, out: ScannedValues, row: number): boolean {
    const width = out.width;
    const base = row * width;
    const kinds = out.kinds;
    kinds.fill(ABSENT, base, base + width);
    let i = skipSpace(data, start);
    if (data[i] !== OPEN_BRACE) return false;
    i = skipSpace(data, i + 1);
    let c = data[i]!;
    if (c === CLOSE_BRACE) return skipSpace(data, i + 1) === end;
    const lastKeys = this.lastKeys;
    const lastFields = this.lastFields;
    for (let ordinal = 0; ; ordinal++) {
      if (c !== QUOTE) return false;
      // The key. Most records repeat the previous record's key at this place: compare with it first.
      const keyStart = i + 1;
      const expected = lastKeys[ordinal];
      let j = keyStart;
      let field = -1;
      let known = false;
      if (expected !== undefined && data[keyStart + expected.length] === QUOTE) {
        const n = expected.length;
        let k = 0;
        while (k < n && data[keyStart + k] === expected.charCodeAt(k)) k++;
        if (k === n) {
          known = true;
          field = lastFields[ordinal]!;
          j = keyStart + n;
        }
      }
      if (!known) {
        for (;;) {
          c = data[j]!;
          if (c === QUOTE) break;
          // An escape, a control character (the line break ends every line), the end of the data, or non-ASCII.
          if (c === BACKSLASH || !(c >= SPACE && c < 0x80)) return false;
          j++;
        }
        const key = data.toString('latin1', keyStart, j);
        field = this.fieldOf.get(key) ?? -1;
        lastKeys[ordinal] = key;
        lastFields[ordinal] = field;
      }
      i = skipSpace(data, j + 1);
      if (data[i] !== COLON) return false;
      i = skipSpace(data, i + 1);
      // The value.
      c = data[i]!;
      const at = base + field;
      if (c === QUOTE) {
        j = i + 1;
        for (;;) {
          c = data[j]!;
          if (c === QUOTE) break;
          if (c === BACKSLASH || !(c >= SPACE && c < 0x80)) return false;
          j++;
        }
        if (field >= 0) {
          kinds[at] = STRING;
          out.strings[at] = data.toString('latin1', i + 1, j);
        }
        i = j + 1;
      } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
        i = scanNumber(data, i, field >= 0);
        if (i < 0) return false;
        if (field >= 0) {
          kinds[at] = NUMBER;
          out.numbers[at] = scannedNumber;
        }
      } else if (c === 0x74 /* t */ && holds(data, i, 'true')) {
        if (field >= 0) kinds[at] = TRUE;
        i += 4;
      } else if (c === 0x66 /* f */ && holds(data, i, 'false')) {
        if (field >= 0) kinds[at] = FALSE;
        i += 5;
      } else if (c === 0x6e /* n */ && holds(data, i, 'null')) {
        if (field >= 0) kinds[at] = NULL;
        i += 4;
      } else return false; // nested objects and arrays, and anything that is not JSON
      i = skipSpace(data, i);
      c = data[i]!;
      if (c === COMMA) {
        i = skipSpace(data, i + 1);
        c = data[i]!;
        continue;
      }
      if (c !== CLOSE_BRACE) return false;
      return skipSpace(data, i + 1) === end;
    }
  }
}
