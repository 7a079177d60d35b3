// Error messages name the bad value so a client can fix its request, but a client controls that
// value: quoted whole, a 50 MB datatype string came back as a 52 MB 400, and a value nested
// 20,000 levels deep overflowed JSON.stringify's stack (a 500). Every echoed value goes through here.

/** How many characters of a client's value an error message quotes. */
export const QUOTE_LIMIT_CHARS = 200;

/** How deep a quoted array or object is printed before it is elided. */
const QUOTE_DEPTH = 8;

/**
 * A bounded JSON-like rendering of `value` for an error message: at most `limitChars` characters
 * of it, then `… (N bytes)` naming the size of the whole when it is longer. Never throws, never
 * recurses deeper than a few levels, whatever the value's size or depth.
 *
 * @example
 * quoteValue('A'.repeat(5e7)); // '"AAAA…AAA"… (50000000 bytes)'
 */
export function quoteValue(value: unknown, limitChars = QUOTE_LIMIT_CHARS): string {
  if (typeof value === 'string') {
    if (value.length <= limitChars) return JSON.stringify(value);
    return `${JSON.stringify(value.slice(0, limitChars))}… (${Buffer.byteLength(value, 'utf8')} bytes)`;
  }
  const out: string[] = [];
  const budget = { left: limitChars };
  render(value, 0, out, budget);
  const text = out.join('');
  return budget.left < 0 ? `${text.slice(0, limitChars)}…` : text;
}

function render(value: unknown, depth: number, out: string[], budget: { left: number }): void {
  const push = (s: string): void => {
    out.push(s);
    budget.left -= s.length;
  };
  if (budget.left < 0) return;
  if (value === undefined) return push('undefined');
  if (value === null || typeof value === 'boolean' || typeof value === 'number') return push(String(value));
  if (typeof value === 'bigint') return push(`${value}`);
  if (typeof value === 'string') return push(quoteValue(value, Math.max(1, budget.left)));
  if (typeof value !== 'object') return push(typeof value);
  if (depth >= QUOTE_DEPTH) return push(Array.isArray(value) ? '[…]' : '{…}');
  if (Array.isArray(value)) {
    push('[');
    for (let i = 0; i < value.length && budget.left >= 0; i++) {
      if (i > 0) push(',');
      render(value[i], depth + 1, out, budget);
    }
    return push(']');
  }
  push('{');
  let first = true;
  for (const key in value) {
    if (budget.left < 0) break;
    if (!first) push(',');
    first = false;
    push(`${quoteValue(key, 40)}:`);
    render((value as Record<string, unknown>)[key], depth + 1, out, budget);
  }
  push('}');
}

/** How long an error message may be before it is cut (they quote several values, each bounded). */
export const MESSAGE_LIMIT_CHARS = 2000;

/**
 * `message` cut to `limitChars` with `… (N bytes)` appended: the last guard on every error answer,
 * for messages that quote a value without `quoteValue` (an engine's or a library's own text).
 */
export function capMessage(message: string, limitChars = MESSAGE_LIMIT_CHARS): string {
  if (message.length <= limitChars) return message;
  return `${message.slice(0, limitChars)}… (${Buffer.byteLength(message, 'utf8')} bytes)`;
}
