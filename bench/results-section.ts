import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the benchmarks run from dist/bench). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A numeric command-line option (`--seconds 5`), or its default. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * Writes one benchmark's section of bench/RESULTS.md between its `<!-- bench:NAME -->` markers,
 * replacing what an earlier run wrote there (or appending it the first time).
 */
export async function writeResultsSection(name: string, section: string): Promise<void> {
  const resultsPath = join(ROOT, 'bench/RESULTS.md');
  const previous = await readFile(resultsPath, 'utf8').catch(() => '# Benchmark results\n');
  const marker = `<!-- bench:${name} -->`;
  const block = `${marker}\n${section}${marker}`;
  await writeFile(resultsPath, previous.includes(marker) ? previous.replace(new RegExp(`${marker}[\\s\\S]*${marker}`), block) : `${previous.trimEnd()}\n\n${block}\n`);
}
