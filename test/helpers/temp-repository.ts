import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, ROOT, TEST_MODELS } from './paths.js';

export interface TempModel {
  /** Test fixture (or example) model whose 1/model.onnx is copied into each version folder. */
  from?: string;
  versions?: number[];
  config?: string;
  /** Raw bytes to write as model.onnx instead (a broken model). */
  bytes?: string;
}

/** Builds a throwaway model repository out of the test fixture and example models; `remove` deletes it. */
export async function tempRepository(models: Record<string, TempModel>): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-repo-'));
  for (const [name, spec] of Object.entries(models)) {
    const modelDir = join(dir, name);
    await mkdir(modelDir, { recursive: true });
    for (const version of spec.versions ?? [1]) {
      const versionDir = join(modelDir, String(version));
      await mkdir(versionDir, { recursive: true });
      if (spec.bytes !== undefined) await writeFile(join(versionDir, 'model.onnx'), spec.bytes);
      else await cp(modelFile(spec.from ?? name), join(versionDir, 'model.onnx'), { dereference: true });
    }
    if (spec.config !== undefined) await writeFile(join(modelDir, 'config.yaml'), spec.config);
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

function modelFile(name: string): string {
  const fixture = join(TEST_MODELS, name, '1', 'model.onnx');
  return existsSync(fixture) ? fixture : join(EXAMPLES, name, '1', 'model.onnx');
}

/** Lets handlers written into `dir` (outside the project) `import ... from 'slipway'`, as an installed package would. */
export async function linkSlipwayPackage(dir: string): Promise<void> {
  await mkdir(join(dir, 'node_modules'), { recursive: true });
  await symlink(ROOT, join(dir, 'node_modules', 'slipway'), 'dir');
}
