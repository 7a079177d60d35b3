import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OptimizeReport } from '../optimize/optimize-report.js';
import type { Model } from '../repository/model-repository.js';

/**
 * The `optimize-report.json` of each version folder that has one (versions `slipway optimize`
 * wrote), newest first. A model served from a single file has none.
 */
export async function readOptimizeReports(model: Model, version?: number): Promise<OptimizeReport[]> {
  if (model.source.kind !== 'folder') return [];
  const dir = model.source.dir;
  const versions = version === undefined ? [...model.versions.keys()].sort((a, b) => b - a) : [version];
  const reports: OptimizeReport[] = [];
  for (const v of versions) {
    try {
      reports.push(JSON.parse(await readFile(join(dir, String(v), 'optimize-report.json'), 'utf8')) as OptimizeReport);
    } catch (error) {
      // A version without a report was not made by slipway optimize; a broken one is skipped too.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
    }
  }
  return reports;
}
