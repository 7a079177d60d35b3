import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { HANDLER_FILE_NAMES } from '../../src/repository/discover.js';
import { EXAMPLES } from './paths.js';

/**
 * A throwaway repository holding copies of example model folders (by path relative to
 * examples/models), without their handlers (but for the folders in `keepHandlers`: a tensor
 * handler is the model), so a test loads just the models and graphs it needs.
 */
export async function exampleRepository(
  folders: readonly string[],
  options: { keepHandlers?: readonly string[] } = {},
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-examples-'));
  for (const folder of folders) {
    const keep = options.keepHandlers?.includes(folder) === true;
    await cp(join(EXAMPLES, folder), join(dir, basename(folder)), {
      recursive: true,
      dereference: true,
      filter: (source) => keep || !HANDLER_FILE_NAMES.includes(basename(source)),
    });
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
