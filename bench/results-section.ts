import { readFile, writeFile } from 'node:fs/promises';

/**
 * Replaces the section between two `<!-- bench:<name> -->` markers of RESULTS.md (or appends it),
 * so each benchmark script rewrites only its own part.
 */
export async function writeResultsSection(resultsPath: string, name: string, section: string): Promise<void> {
  const previous = await readFile(resultsPath, 'utf8').catch(() => '# Benchmark results\n');
  const marker = `<!-- bench:${name} -->`;
  const block = `${marker}\n${section}${marker}`;
  await writeFile(resultsPath, previous.includes(marker) ? previous.replace(new RegExp(`${marker}[\\s\\S]*${marker}`), block) : `${previous.trimEnd()}\n\n${block}\n`);
}
