
/** Arrays written in at least this many bytes, with no string, object or array inside, are parsed in pieces. */
export const PIECE_ARRAY_MIN_BYTES = 64 * 1024;
/** Bytes of array text one `JSON.parse` call reads: ~28,000 six-decimal numbers. */
const PIECE_BYTES = 256 * 1024;

const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const QUOTE = 0x22; // "
const BRACE = 0x7b; // {
const COMMA = 0x2c; // ,
const BACKSLASH = 0x5c; // \

/**
 * `JSON.parse` of a body, with its long flat arrays (tensor data: numbers, `true`, `null`) parsed a
 * piece at a time. V8's parser holds a handle per element of the array it is reading, in 8 KiB blocks
 * from malloc: one 60 MB array of numbers takes ~56 MB of them on the parsing thread, and glibc keeps
 * that thread's arena at its peak afterwards (measured: +40–57 MB RSS per codec thread that ever parsed
 * one, with 10–20 KB still in use; `malloc_trim(0)` gave it back, nothing a Node process can set did).
 * Read in pieces of 256 KiB, the handles of one piece are reused by the next. Same values, same
 * errors (a piece that is not valid JSON throws `SyntaxError` as the whole would), and no slower:
 * the pieces are found with `indexOf`, never byte by byte in JavaScript (measured on a 60 MB body:
 * 0.55× the time of one whole parse, median of 3 interleaved rounds on a loaded machine).
 *
 * @example
 * parseJsonInPieces(Buffer.from('{"data":[1,2,3]}')); // { data: [1, 2, 3] }
 */
export function parseJsonInPieces(body: Buffer): unknown {
  const spans = flatArraySpans(body, PIECE_ARRAY_MIN_BYTES);
  if (spans.length === 0) return JSON.parse(body.toString('utf8'));
  // Each long array's text is replaced by a string no client can have written (a fresh UUID), and
  // its parsed value put back there once the rest, now small, is parsed.
  const marker = `${randomMarker()}:`;
  const texts: string[] = [];
  const arrays = new Map<string, unknown[]>();
  let from = 0;
  for (const [start, end] of spans) {
    const key = `${marker}${arrays.size}`;
    texts.push(body.toString('utf8', from, start), `"${key}"`);
    arrays.set(key, parseArrayInPieces(body, start, end));
    from = end + 1;
  }
  texts.push(body.toString('utf8', from));
  const root: unknown = JSON.parse(texts.join(''));
  return putBack(root, marker, arrays);
}

/**
 * `[start, end]` (the brackets' offsets) of each array at least `minBytes` long whose text holds no
 * `[`, `{` or `"`: the innermost arrays, where the elements are. Strings are stepped over whole, so
 * a bracket inside one is never taken for an array. Linear: each `indexOf` starts past the last
 * match it found.
 *
 * @example
 * flatArraySpans(Buffer.from('{"s":"[1]","d":[[1,2],[3]]}'), 1); // [[16, 20], [22, 24]]
 */
export function flatArraySpans(body: Buffer, minBytes: number): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let nextOpen = -2;
  let nextClose = -2;
  let nextQuote = -2;
  let nextBrace = -2;
  const after = (byte: number, cached: number, from: number): number => (cached !== -1 && cached < from ? body.indexOf(byte, from) : cached);
  let i = 0;
  for (;;) {
    nextOpen = after(OPEN, nextOpen, i);
    nextQuote = after(QUOTE, nextQuote, i);
    if (nextOpen === -1) return spans;
    if (nextQuote !== -1 && nextQuote < nextOpen) {
      const end = endOfString(body, nextQuote);
      if (end === -1) return spans;
      i = end + 1;
      continue;
    }
    const start = nextOpen;
    nextClose = after(CLOSE, nextClose, start + 1);
    if (nextClose === -1) return spans;
    nextOpen = after(OPEN, nextOpen, start + 1);
    nextBrace = after(BRACE, nextBrace, start + 1);
    const inside = (at: number): boolean => at !== -1 && at < nextClose;
    if (inside(nextOpen) || inside(nextQuote) || inside(nextBrace)) {
      // Not flat: go on from whatever comes first inside (a nested array, a string, an object).
      i = Math.min(...[nextOpen, nextQuote, nextBrace].filter(inside));
      continue;
    }
    if (nextClose - start >= minBytes) spans.push([start, nextClose]);
    i = nextClose + 1;
  }
}

/** The offset of the quote that ends the string opened at `open`, or -1. */
function endOfString(body: Buffer, open: number): number {
  let at = open + 1;
  for (;;) {
    const quote = body.indexOf(QUOTE, at);
    if (quote === -1) return -1;
    let slashes = 0;
    while (body[quote - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return quote;
    at = quote + 1;
  }
}

/** The elements of the flat array whose brackets are at `start` and `end`, parsed a piece at a time. */
function parseArrayInPieces(body: Buffer, start: number, end: number): unknown[] {
  const out: unknown[] = [];
  let from = start + 1;
  let afterComma = false;
  while (from < end || afterComma) {
    // No string inside, so every comma separates two elements: cut there.
    let cut = from + PIECE_BYTES >= end ? -1 : body.indexOf(COMMA, from + PIECE_BYTES);
    if (cut === -1 || cut > end) cut = end;
    const piece = JSON.parse(`[${body.toString('utf8', from, cut)}]`) as unknown[];
    // A piece after a comma must hold an element: `[1,2,]` and `[1, ]` are refused as the whole would be.
    if (afterComma && piece.length === 0) throw new SyntaxError('Unexpected token ] in JSON: a comma with no element after it');
    for (let k = 0; k < piece.length; k++) out.push(piece[k]);
    afterComma = cut < end;
    from = cut + 1;
  }
  return out;
}

/** Replaces each marker string in `root` (an iterative walk: the input may be nested 20,000 deep) with its array. */
function putBack(root: unknown, marker: string, arrays: Map<string, unknown[]>): unknown {
  const take = (value: unknown): unknown[] | undefined => (typeof value === 'string' && value.startsWith(marker) ? arrays.get(value) : undefined);
  const whole = take(root);
  if (whole !== undefined) return whole;
  const stack: object[] = typeof root === 'object' && root !== null ? [root] : [];
  let left = arrays.size;
  while (stack.length > 0 && left > 0) {
    const node = stack.pop() as Record<string, unknown>;
    for (const key of Object.keys(node)) {
      const value = node[key];
      const array = take(value);
      if (array !== undefined) {
        node[key] = array;
        left--;
      } else if (typeof value === 'object' && value !== null) stack.push(value);
    }
  }
  return root;
}

/**
 * 128 random bits in hex: a client cannot write a string that is taken for a marker. Web Crypto's
 * getRandomValues, because this module is bundled for browsers too (where randomUUID needs a secure context).
 */
function randomMarker(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
