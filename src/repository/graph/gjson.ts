// The subset of GJSON (github.com/tidwall/gjson, SYNTAX.md) that KServe InferenceGraph conditions
// use, parsed once when a graph loads and evaluated on plain JS values (no JSON text in between).
// KServe's router asks `gjson.GetBytes(body, condition).Exists()`; `gjsonExists` answers the same
// question. Supported: keys (with `\` escapes and `*`/`?` wildcards), array indexes, `#` (length, or
// a map over the elements when a path follows), queries `#(…)` / `#(…)#` with `==` `=` `!=` `<`
// `<=` `>` `>=` `%` `!%` and `~true`/`~false`/`~null`/`~*`, nested queries, `.` and `|`, the
// `@this` modifier and `[…]` / `{…}` multipaths. Slipway adds `&&` and `||` between comparisons in
// a query: GJSON has neither (it reads `#(x>0.5 && x<=0.9)` as `x > 0`), but KServe's documentation
// writes them, meaning what they say. Everything else (other modifiers, literals) is refused at load.

/** A parsed GJSON path. */
export type GjsonPath = Component[];

type Component =
  | { kind: 'key'; pattern: string; wildcard: boolean; piped: boolean }
  | { kind: 'this'; piped: boolean }
  | { kind: 'count'; piped: boolean }
  | { kind: 'map'; piped: boolean }
  | { kind: 'query'; query: QueryExpr; all: boolean; piped: boolean }
  | { kind: 'multi'; object: boolean; parts: Array<{ key: string | undefined; path: GjsonPath }>; piped: boolean };

type QueryExpr =
  | { kind: 'compare'; path: GjsonPath; op: Operator | undefined; value: string }
  | { kind: 'and' | 'or'; left: QueryExpr; right: QueryExpr };

type Operator = '=' | '!=' | '<' | '<=' | '>' | '>=' | '%' | '!%';

/** A condition that does not parse; the message says where and why. */
export class GjsonSyntaxError extends Error {}

/**
 * Parses a GJSON path, refusing what this subset does not implement.
 *
 * @example
 * const path = parseGjson('[@this].#(predictions.0.class=="news")');
 * gjsonExists(path, { predictions: [{ class: 'news' }] }); // true
 */
export function parseGjson(text: string): GjsonPath {
  if (text.trim() === '') throw new GjsonSyntaxError('the condition is empty (GJSON finds nothing for an empty path)');
  return new Parser(text).path(new Set());
}

/** What `gjson.Get(json, path)` returns, as a JS value; undefined when it does not exist. */
export function gjsonGet(path: GjsonPath, document: unknown): unknown {
  return evaluate(path, 0, document);
}

/** `gjson.Get(json, path).Exists()`. */
export function gjsonExists(path: GjsonPath, document: unknown): boolean {
  return gjsonGet(path, document) !== undefined;
}

class Parser {
  private i = 0;
  constructor(private readonly text: string) {}

  private fail(why: string): never {
    throw new GjsonSyntaxError(`${why} at character ${this.i + 1} of ${JSON.stringify(this.text)}`);
  }

  /** A path up to the end, or up to one of `stops` at depth 0. */
  path(stops: Set<string>): GjsonPath {
    const components: Component[] = [];
    let piped = false;
    for (;;) {
      components.push(this.component(piped));
      const c = this.text[this.i];
      if (c === undefined || stops.has(c)) return components;
      if (c !== '.' && c !== '|') this.fail(`expected '.' or '|' after a path component, found '${c}'`);
      piped = c === '|';
      this.i++;
      if (this.i >= this.text.length) this.fail('the path ends with a separator');
    }
  }

  private component(piped: boolean): Component {
    const c = this.text[this.i];
    if (c === '@') {
      const name = /^@[A-Za-z]*/.exec(this.text.slice(this.i))![0];
      if (name !== '@this') this.fail(`modifier '${name}' is not supported (only @this)`);
      this.i += name.length;
      return { kind: 'this', piped };
    }
    if (c === '[' || c === '{') return this.multipath(piped);
    if (c === '!') this.fail('JSON literals (!…) are not supported');
    if (c === '#') {
      const next = this.text[this.i + 1];
      if (next === '(' || next === '[') return this.query(piped);
      this.i++;
      const after = this.text[this.i];
      return after === '.' ? { kind: 'map', piped } : { kind: 'count', piped };
    }
    return this.key(piped);
  }

  private key(piped: boolean): Component {
    let pattern = '';
    let wildcard = false;
    while (this.i < this.text.length) {
      const c = this.text[this.i]!;
      if (c === '.' || c === '|' || c === ',' || c === ']' || c === '}' || c === ')') break;
      if (c === '\\') {
        const escaped = this.text[this.i + 1];
        if (escaped === undefined) this.fail('the path ends with a lone backslash');
        pattern += `\\${escaped}`;
        this.i += 2;
        continue;
      }
      if (c === '*' || c === '?') wildcard = true;
      pattern += c;
      this.i++;
    }
    if (pattern === '') this.fail('expected a key');
    return { kind: 'key', pattern, wildcard, piped };
  }

  private multipath(piped: boolean): Component {
    const object = this.text[this.i] === '{';
    const close = object ? '}' : ']';
    this.i++;
    const parts: Array<{ key: string | undefined; path: GjsonPath }> = [];
    for (;;) {
      let key: string | undefined;
      if (object && this.text[this.i] === '"') {
        key = this.jsonString();
        if (this.text[this.i] !== ':') this.fail(`expected ':' after the key ${JSON.stringify(key)}`);
        this.i++;
      }
      parts.push({ key, path: this.path(new Set([',', close])) });
      const c = this.text[this.i];
      this.i++;
      if (c === close) break;
      if (c !== ',') this.fail(`unclosed multipath: expected ',' or '${close}'`);
    }
    return { kind: 'multi', object, parts, piped };
  }

  private query(piped: boolean): Component {
    const open = this.text[this.i + 1]!;
    const close = open === '(' ? ')' : ']';
    this.i += 2;
    const query = this.orExpr(close);
    if (this.text[this.i] !== close) this.fail(`unclosed query: expected '${close}'`);
    this.i++;
    const all = this.text[this.i] === '#';
    if (all) this.i++;
    return { kind: 'query', query, all, piped };
  }

  private orExpr(close: string): QueryExpr {
    let left = this.andExpr(close);
    while (this.text.startsWith('||', this.i)) {
      this.i += 2;
      left = { kind: 'or', left, right: this.andExpr(close) };
    }
    return left;
  }

  private andExpr(close: string): QueryExpr {
    let left = this.comparison(close);
    while (this.text.startsWith('&&', this.i)) {
      this.i += 2;
      left = { kind: 'and', left, right: this.comparison(close) };
    }
    return left;
  }

  /** `path op value`, `op value` (the element itself) or `path` (existence). */
  private comparison(close: string): QueryExpr {
    this.spaces();
    let path: GjsonPath = [{ kind: 'this', piped: false }];
    if (!/^[!=<>%]/.test(this.text.slice(this.i))) {
      const start = this.i;
      // The query's path ends where its operator starts (GJSON splits at the first one).
      const end = this.operatorStart(close);
      path = new Parser(this.text.slice(start, end).trim()).path(new Set());
      this.i = end;
    }
    this.spaces();
    const op = /^(==|!=|!%|<=|>=|=|<|>|%)/.exec(this.text.slice(this.i))?.[0];
    if (op === undefined) return { kind: 'compare', path, op: undefined, value: '' };
    this.i += op.length;
    this.spaces();
    const value = this.literal(close);
    return { kind: 'compare', path, op: op === '==' ? '=' : (op as Operator), value };
  }

  private operatorStart(close: string): number {
    let depth = 0;
    for (let j = this.i; j < this.text.length; j++) {
      const c = this.text[j]!;
      if (c === '\\') j++;
      else if (c === '"') j = this.skipString(j);
      else if (c === '(' || c === '[' || c === '{') depth++;
      else if (depth > 0 && (c === ')' || c === ']' || c === '}')) depth--;
      else if (depth === 0 && (c === close || /[!=<>%]/.test(c) || this.text.startsWith('&&', j) || this.text.startsWith('||', j))) return j;
    }
    return this.text.length;
  }

  /** The right side of a comparison: a JSON string, number, true/false/null, or ~true/~false/~null/~*. */
  private literal(close: string): string {
    if (this.text[this.i] === '"') {
      const text = this.jsonString();
      this.spaces();
      return text;
    }
    const match = /^(~(true|false|null|\*)|true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(this.text.slice(this.i));
    if (match === null) {
      const rest = this.text.slice(this.i).split(close)[0];
      this.fail(`expected a JSON value (a "string", a number, true, false, null or ~true/~false/~null/~*) after the operator, found '${rest}'`);
    }
    this.i += match[0].length;
    this.spaces();
    const c = this.text[this.i];
    if (c === undefined) this.fail(`unclosed query: expected '${close}'`);
    if (c !== close && !this.text.startsWith('&&', this.i) && !this.text.startsWith('||', this.i)) {
      this.fail(`unexpected '${c ?? 'end'}' after the value ${match[0]}`);
    }
    return match[0];
  }

  private jsonString(): string {
    const end = this.skipString(this.i);
    if (end >= this.text.length) this.fail('unterminated string');
    const raw = this.text.slice(this.i, end + 1);
    this.i = end + 1;
    try {
      return String(JSON.parse(raw));
    } catch {
      return this.fail(`invalid string ${raw}`);
    }
  }

  private skipString(start: number): number {
    let j = start + 1;
    while (j < this.text.length && this.text[j] !== '"') j += this.text[j] === '\\' ? 2 : 1;
    return j;
  }

  private spaces(): void {
    while (this.text[this.i] === ' ') this.i++;
  }
}

function evaluate(path: GjsonPath, from: number, value: unknown): unknown {
  let current = value;
  for (let k = from; k < path.length; k++) {
    if (current === undefined) return undefined;
    const component = path[k]!;
    switch (component.kind) {
      case 'this':
        break;
      case 'key':
        current = keyOf(current, component.pattern, component.wildcard);
        break;
      case 'count':
        current = Array.isArray(current) ? current.length : undefined;
        break;
      case 'map': {
        // `#.rest` applies rest to every element (`#|rest` parses as a count, then rest).
        if (!Array.isArray(current)) return undefined;
        return current.map((item) => evaluate(path, k + 1, item)).filter((v) => v !== undefined);
      }
      case 'query': {
        if (!Array.isArray(current)) return undefined;
        if (!component.all) {
          current = current.find((item) => matches(component.query, item));
          break;
        }
        const hits = current.filter((item) => matches(component.query, item));
        const rest = k + 1;
        if (rest < path.length && !path[rest]!.piped) return hits.map((item) => evaluate(path, rest, item)).filter((v) => v !== undefined);
        current = hits;
        break;
      }
      case 'multi': {
        const base = current;
        if (component.object) {
          const out: Record<string, unknown> = {};
          for (const part of component.parts) {
            const v = evaluate(part.path, 0, base);
            if (v !== undefined) out[part.key ?? lastKey(part.path)] = v;
          }
          current = out;
        } else {
          current = component.parts.map((part) => evaluate(part.path, 0, base)).filter((v) => v !== undefined);
        }
        break;
      }
    }
  }
  return current;
}

function lastKey(path: GjsonPath): string {
  const last = path[path.length - 1];
  return last?.kind === 'key' && !last.wildcard ? unescapeKey(last.pattern) : '_';
}

function unescapeKey(pattern: string): string {
  return pattern.replace(/\\(.)/g, '$1');
}

function keyOf(value: unknown, pattern: string, wildcard: boolean): unknown {
  if (Array.isArray(value)) {
    if (!/^\d+$/.test(pattern)) return undefined;
    return value[Number(pattern)];
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (!wildcard) {
    const key = unescapeKey(pattern);
    return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
  }
  const regex = globRegex(pattern);
  for (const key in record) if (regex.test(key)) return record[key];
  return undefined;
}

/** GJSON's `*` (any run) and `?` (any one character), with `\` escaping either. */
function globRegex(pattern: string): RegExp {
  let source = '';
  for (let j = 0; j < pattern.length; j++) {
    const c = pattern[j]!;
    if (c === '\\' && j + 1 < pattern.length) source += escapeRegex(pattern[++j]!);
    else if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else source += escapeRegex(c);
  }
  return new RegExp(`^${source}$`, 's');
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function matches(query: QueryExpr, item: unknown): boolean {
  switch (query.kind) {
    case 'and':
      return matches(query.left, item) && matches(query.right, item);
    case 'or':
      return matches(query.left, item) || matches(query.right, item);
    case 'compare':
      return compare(evaluate(query.path, 0, item), query.op, query.value);
  }
}

// Mirrors gjson's queryMatches: the document value's type decides how the right side is read.
function compare(found: unknown, op: Operator | undefined, raw: string): boolean {
  let value = found;
  let right = raw;
  if (right.startsWith('~')) {
    const ish = right === '~*' ? value !== undefined : right === '~null' ? value === null || value === undefined : right === '~true' ? trueish(value) : falseish(value);
    value = ish;
    right = 'true';
  }
  if (value === undefined) return false;
  if (op === undefined) return true;
  if (typeof value === 'string') {
    switch (op) {
      case '=':
        return value === right;
      case '!=':
        return value !== right;
      case '<':
        return value < right;
      case '<=':
        return value <= right;
      case '>':
        return value > right;
      case '>=':
        return value >= right;
      case '%':
        return globRegex(right).test(value);
      case '!%':
        return !globRegex(right).test(value);
    }
  }
  if (typeof value === 'number') {
    // Go's strconv.ParseFloat gives 0 for text that is not a number.
    const parsed = Number(right);
    const n = Number.isFinite(parsed) ? parsed : 0;
    switch (op) {
      case '=':
        return value === n;
      case '!=':
        return value !== n;
      case '<':
        return value < n;
      case '<=':
        return value <= n;
      case '>':
        return value > n;
      case '>=':
        return value >= n;
      default:
        return false;
    }
  }
  if (value === true) return op === '=' ? right === 'true' : op === '!=' ? right !== 'true' : op === '>' ? right === 'false' : op === '>=';
  if (value === false) return op === '=' ? right === 'false' : op === '!=' ? right !== 'false' : op === '<' ? right === 'true' : op === '<=';
  return false;
}

function parseBool(text: string): boolean | undefined {
  const t = text.toLowerCase();
  if (t === '1' || t === 't' || t === 'true') return true;
  if (t === '0' || t === 'f' || t === 'false') return false;
  return undefined;
}

function trueish(value: unknown): boolean {
  if (value === true) return true;
  if (typeof value === 'string') return parseBool(value) === true;
  if (typeof value === 'number') return value !== 0;
  return false;
}

function falseish(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return true;
  if (typeof value === 'string') return parseBool(value) === false;
  if (typeof value === 'number') return value === 0;
  return false;
}
