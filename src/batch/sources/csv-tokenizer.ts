/**
 * A streaming RFC 4180 CSV tokenizer that records where each field lies in the byte buffer instead of
 * building strings. A batch job reads mostly numbers: parsing them straight from the bytes is what
 * lets a CSV feed the model as fast as onnxruntime eats it (csv-parse, which builds a string per
 * field, reads the 65-column digits CSV at ~0.4x the engine's rate; see bench/batch.ts). The tests
 * check it field for field against csv-parse on the awkward cases (quotes, escaped quotes, newlines in
 * fields, CRLF, a BOM, ragged rows).
 */

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** Records tokenized out of one buffer: offsets only, so nothing is copied or decoded yet. */
export class CsvRecords {
  /** Records held. */
  size = 0;
  /** Field offsets, `maxFields` slots per record: [start, end) of each field's content. */
  starts: Int32Array;
  ends: Int32Array;
  /** Per field: 1 when the field was quoted and contains escaped quotes (`""`) to unescape. */
  escaped: Uint8Array;
  /** Fields found in each record (may differ from the header: a ragged row). */
  fieldCounts: Int32Array;
  /** 1-based line number where each record starts, for error messages. */
  lines: Int32Array;
  /** [start, end) of each whole record, to show a rejected row as it was written. */
  recordStarts: Int32Array;
  recordEnds: Int32Array;
  /** Why a record could not be tokenized (an unterminated quote, junk after a closing quote), by record. */
  problems = new Map<number, string>();

  constructor(
    readonly maxFields: number,
    capacity: number,
  ) {
    this.starts = new Int32Array(capacity * maxFields);
    this.ends = new Int32Array(capacity * maxFields);
    this.escaped = new Uint8Array(capacity * maxFields);
    this.fieldCounts = new Int32Array(capacity);
    this.lines = new Int32Array(capacity);
    this.recordStarts = new Int32Array(capacity);
    this.recordEnds = new Int32Array(capacity);
  }

  get capacity(): number {
    return this.fieldCounts.length;
  }

  clear(): void {
    this.size = 0;
    this.problems.clear();
  }

  grow(): void {
    const capacity = this.capacity * 2;
    const widen = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T, per: number): T => {
      const b = make(capacity * per);
      b.set(a);
      return b;
    };
    this.starts = widen(this.starts, (n) => new Int32Array(n), this.maxFields);
    this.ends = widen(this.ends, (n) => new Int32Array(n), this.maxFields);
    this.escaped = widen(this.escaped, (n) => new Uint8Array(n), this.maxFields);
    this.fieldCounts = widen(this.fieldCounts, (n) => new Int32Array(n), 1);
    this.lines = widen(this.lines, (n) => new Int32Array(n), 1);
    this.recordStarts = widen(this.recordStarts, (n) => new Int32Array(n), 1);
    this.recordEnds = widen(this.recordEnds, (n) => new Int32Array(n), 1);
  }
}

/** Tokenizer state carried between buffers: the line number where the next record starts. */
export interface CsvCursor {
  line: number;
}

/**
 * Tokenizes the complete records of `data` from `offset` into `out` and returns the offset where an
 * incomplete record begins (the caller prepends it to the next buffer). With `final`, the end of the
 * data ends the last record. Blank lines are skipped, as csv-parse does with `skip_empty_lines`.
 * `maxRecords` stops early (reading a header).
 */
export function tokenizeCsv(
  data: Buffer,
  offset: number,
  final: boolean,
  delimiter: number,
  cursor: CsvCursor,
  out: CsvRecords,
  maxRecords = Infinity,
): number {
  const length = data.length;
  const maxFields = out.maxFields;
  let pos = offset;
  while (pos < length && out.size < maxRecords) {
    // Blank lines (LF or CRLF alone) are not records.
    const first = data[pos]!;
    if (first === LF) {
      pos++;
      cursor.line++;
      continue;
    }
    if (first === CR && pos + 1 < length && data[pos + 1] === LF) {
      pos += 2;
      cursor.line++;
      continue;
    }
    if (first === CR && pos + 1 >= length && !final) return pos;

    const recordStart = pos;
    const startLine = cursor.line;
    let newlines = 0;
    if (out.size === out.capacity) out.grow();
    const record = out.size;
    const base = record * maxFields;
    let field = 0;
    let problem: string | undefined;
    let complete = false;
    let recordEnd = length;

    for (;;) {
      // One field starting at `pos`.
      let start: number;
      let end: number;
      let escaped = 0;
      if (pos < length && data[pos] === QUOTE) {
        start = pos + 1;
        let scan = start;
        let closed = -1;
        while (scan < length) {
          const q = data.indexOf(QUOTE, scan);
          if (q < 0) break;
          if (q + 1 < length && data[q + 1] === QUOTE) {
            escaped = 1;
            scan = q + 2;
            continue;
          }
          if (q + 1 >= length && !final) break; // the next buffer may hold the second quote of `""`
          closed = q;
          break;
        }
        if (closed < 0) {
          if (!final) return recordStart;
          problem ??= `field ${field + 1}: a quoted field is never closed`;
          end = length;
          pos = length;
        } else {
          end = closed;
          for (let i = start; i < end; i++) if (data[i] === LF) newlines++;
          pos = closed + 1;
          if (pos < length) {
            const next = data[pos]!;
            if (next !== delimiter && next !== LF && next !== CR) {
              problem ??= `field ${field + 1}: unexpected character after a closing quote`;
              // Resynchronise at the end of the field, keeping the rest of the record in step.
              while (pos < length && data[pos] !== delimiter && data[pos] !== LF) pos++;
            }
          }
        }
      } else {
        start = pos;
        while (pos < length) {
          const c = data[pos]!;
          if (c === delimiter || c === LF) break;
          pos++;
        }
        end = pos;
      }
      if (field < maxFields) {
        out.starts[base + field] = start;
        out.ends[base + field] = end;
        out.escaped[base + field] = escaped;
      }
      field++;
      if (pos >= length) {
        if (!final) return recordStart;
        // A trailing CR before the end of the data belongs to a CRLF that was cut off by EOF.
        if (field <= maxFields && out.ends[base + field - 1]! > start && data[end - 1] === CR) {
          out.ends[base + field - 1] = end - 1;
        }
        recordEnd = length;
        complete = true;
        break;
      }
      const c = data[pos]!;
      if (c === delimiter) {
        pos++;
        continue;
      }
      // End of record: LF, or CR LF (the CR is not part of the last field).
      if (c === CR) {
        if (pos + 1 >= length && !final) return recordStart;
        if (pos + 1 < length && data[pos + 1] === LF) {
          recordEnd = pos;
          pos += 2;
        } else {
          recordEnd = pos;
          pos += 1;
        }
      } else {
        if (field <= maxFields && end > start && data[end - 1] === CR && escaped === 0 && data[start - 1] !== QUOTE) {
          out.ends[base + field - 1] = end - 1;
          recordEnd = pos - 1;
        } else {
          recordEnd = pos;
        }
        pos += 1;
      }
      newlines++;
      complete = true;
      break;
    }
    if (!complete) return recordStart;
    out.fieldCounts[record] = field;
    out.lines[record] = startLine;
    out.recordStarts[record] = recordStart;
    out.recordEnds[record] = recordEnd;
    if (problem !== undefined) out.problems.set(record, problem);
    out.size++;
    cursor.line += newlines;
  }
  return pos;
}

/** The text of one field (quotes removed, `""` unescaped). */
export function csvFieldText(data: Buffer, records: CsvRecords, record: number, field: number): string {
  const slot = record * records.maxFields + field;
  const text = data.toString('utf8', records.starts[slot]!, records.ends[slot]!);
  return records.escaped[slot] === 1 ? text.replaceAll('""', '"') : text;
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * Parses a plain decimal (`-12.5`, `3`, `+0.25`) straight from the bytes, or returns NaN for anything
 * else (exponents, spaces, `NaN`, empty), which the caller then parses from the text. The result is
 * exactly `Number(text)`: with at most 15 significant digits and at most 22 decimals, the integer
 * mantissa and the power of ten are both exact doubles, so one division rounds correctly (Clinger's
 * fast path).
 */
export function parsePlainDecimal(data: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  const sign = data[i];
  if (sign === 0x2d) {
    negative = true;
    i++;
  } else if (sign === 0x2b) i++;
  let value = 0;
  let digits = 0;
  let decimals = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = data[i]!;
    if (c >= 0x30 && c <= 0x39) {
      if (value === 0 && c === 0x30 && !dot) continue; // leading zeros do not count as significant
      if (digits === 15) return Number.NaN;
      value = value * 10 + (c - 0x30);
      if (value !== 0) digits++;
      if (dot) decimals++;
      if (decimals > 22) return Number.NaN;
    } else if (c === 0x2e && !dot) {
      dot = true;
    } else {
      return Number.NaN;
    }
  }
  // At least one digit must have been seen: "", "-", "." and "-." are not numbers.
  const digitBytes = end - start - (sign === 0x2d || sign === 0x2b ? 1 : 0) - (dot ? 1 : 0);
  if (digitBytes <= 0) return Number.NaN;
  const magnitude = decimals === 0 ? value : value / POWERS_OF_TEN[decimals]!;
  return negative ? -magnitude : magnitude;
}
