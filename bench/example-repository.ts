import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './results-section.js';

/** A one-model repository in a temporary folder: the example's weights (linked) with the given config.yaml. */
export async function repoWith(model: string, config: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-'));
  await mkdir(join(dir, model, '1'), { recursive: true });
  await symlink(join(ROOT, 'examples/models', model, '1/model.onnx'), join(dir, model, '1/model.onnx'));
  await writeFile(join(dir, model, 'config.yaml'), config);
  return dir;
}
