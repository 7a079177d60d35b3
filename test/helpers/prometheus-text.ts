/** Parses Prometheus text exposition into `name{labels}` → value, enough for tests to read metrics. */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The value of a sample, matching its labels in any order; 0 when absent (a counter not yet touched). */
export function sample(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const metric = brace < 0 ? key : key.slice(0, brace);
    if (metric !== name) continue;
    const text = brace < 0 ? '' : key.slice(brace + 1, -1);
    const have = new Map([...text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!] as const));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return value;
  }
  return 0;
}
