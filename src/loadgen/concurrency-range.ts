/**
 * Parses perf_analyzer-style concurrency: `8`, `1:64` (step 1), `1:64:4` (add 4) or `1:64:x2`
 * (multiply by 2). The end is always included when the steps pass it.
 */
export function parseConcurrencyRange(text: string): number[] {
  const parts = text.split(':');
  const num = (s: string | undefined, what: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency ${text}: ${what} must be a positive integer`);
    return n;
  };
  if (parts.length === 1) return [num(parts[0], 'the level')];
  if (parts.length > 3) throw new Error(`--concurrency ${text}: expected N, START:END, START:END:STEP or START:END:xFACTOR`);
  const start = num(parts[0], 'START');
  const end = num(parts[1], 'END');
  if (end < start) throw new Error(`--concurrency ${text}: END must not be below START`);
  const step = parts[2] ?? '1';
  const multiply = step.startsWith('x');
  const by = num(multiply ? step.slice(1) : step, 'the step');
  if (multiply && by < 2) throw new Error(`--concurrency ${text}: a factor must be at least x2`);
  const levels: number[] = [];
  for (let c = start; c <= end; c = multiply ? c * by : c + by) levels.push(c);
  if (levels.at(-1) !== end) levels.push(end);
  return levels;
}
