import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { DIGIT_SAMPLES } from '../helpers/batch-data.js';
import { freePort } from '../helpers/free-port.js';
import { parseObjects, validateKubernetesObject, type KubeObject } from '../helpers/kubernetes-schemas.js';
import { requireCommand } from '../helpers/requirements.js';
import { buildRepositoryImage, podman, podmanEnvironment, waitForReady, type Podman } from './podman.js';

// The Deployment `slipway build` writes, run for real by `podman kube play`: the pod's security
// settings, environment, volumes and ports as written, the image as built. The only change is a
// hostPort on each port (kube play publishes those), free ones, since this machine is shared.
const pauseImages = (run: Podman): string[] =>
  run(['images', '--format', '{{.Repository}}:{{.Tag}}'], { allowFailure: true }).stdout.split('\n').filter((i) => i.includes('podman-pause'));

describe('podman kube play runs the generated Deployment', requireCommand('podman'), () => {
  const suffix = `${process.pid}`;
  const baseTag = `localhost/slipway-kube-base:${suffix}`;
  const appTag = `localhost/slipway-kube-app:${suffix}`;
  let work: string;
  let run: Podman;
  let deployment: KubeObject;
  let playFile: string;
  let url: string;
  let healthUrl: string;
  let containerName: string;
  let pauseImagesBefore: string[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'slipway-kube-play-'));
    const env = await podmanEnvironment(work);
    run = podman(env);
    pauseImagesBefore = pauseImages(run);
    const { report } = await buildRepositoryImage(run, env, work, { base: baseTag, app: appTag });
    const objects = parseObjects(await readFile(join(report.context.dir, 'kubernetes.yaml'), 'utf8'));
    deployment = objects.find((o) => o.kind === 'Deployment')!;
    validateKubernetesObject(deployment);
    // Renamed per run so two runs never share a pod name.
    const played = structuredClone(deployment);
    played.metadata.name = `slipway-kube-${suffix}`;
    const hostPorts: Record<string, number> = { http: await freePort(), grpc: await freePort(), health: await freePort() };
    const httpPort = hostPorts.http!;
    healthUrl = `http://127.0.0.1:${hostPorts.health}`;
    const container = played.spec.template.spec.containers[0];
    container.ports = container.ports.map((p: { name: string }) => ({ ...p, hostPort: hostPorts[p.name], hostIP: '127.0.0.1' }));
    playFile = join(work, 'deployment.yaml');
    await writeFile(playFile, stringify(played));
    run(['kube', 'play', playFile], { timeoutMs: 180_000 });
    url = `http://127.0.0.1:${httpPort}`;
    // kube play names the container <pod>-<container>; the pod's name depends on podman's version.
    const names = run(['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n');
    containerName = names.find((n) => n.startsWith(`slipway-kube-${suffix}`) && n.endsWith('-slipway')) ?? '';
    assert.ok(containerName, `no container for the Deployment among ${names.join(', ')}`);
    await waitForReady(url, run, containerName);
  });

  after(async () => {
    if (run !== undefined) {
      if (playFile !== undefined) run(['kube', 'down', playFile], { allowFailure: true });
      run(['rmi', '-f', appTag], { allowFailure: true });
      run(['rmi', '-f', baseTag], { allowFailure: true });
      // kube play builds a pause image for the pod's infra container; remove it if this run made it.
      for (const image of pauseImages(run)) if (!pauseImagesBefore.includes(image)) run(['rmi', image], { allowFailure: true });
    }
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  test('the pod is ready on its published port and reads digits correctly', async () => {
    assert.deepEqual(await (await fetch(`${url}/v2/health/ready`)).json(), { ready: true });
    assert.deepEqual(await (await fetch(`${url}/v2/health/live`)).json(), { live: true });
    // The probes' own port (SLIPWAY_HEALTH_PORT in the manifest) answers in the running pod.
    assert.deepEqual(await (await fetch(`${healthUrl}/v2/health/ready`)).json(), { ready: true });
    assert.deepEqual(await (await fetch(`${healthUrl}/v2/health/live`)).json(), { live: true });
    const reply = await fetch(`${url}/v2/models/digits/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'FP32', shape: [DIGIT_SAMPLES.length, 1, 8, 8], data: DIGIT_SAMPLES.map((s) => s.image).flat(3) }] }),
    });
    assert.equal(reply.status, 200);
    const body = (await reply.json()) as { outputs: Array<{ data: number[] }> };
    const p = body.outputs[0]!.data;
    const labels = DIGIT_SAMPLES.map((_, i) => {
      const row = p.slice(i * 10, i * 10 + 10);
      return row.indexOf(Math.max(...row));
    });
    assert.deepEqual(labels, DIGIT_SAMPLES.map((s) => s.label));
  });

  test("the container runs as the manifest says: uid 10001, read-only root, /tmp writable, the Deployment's environment", () => {
    const exec = (script: string) => run(['exec', containerName, 'node', '-e', script], { allowFailure: true });
    assert.equal(exec('process.stdout.write(String(process.getuid()))').stdout, '10001');
    const rootWrite = exec("require('node:fs').writeFileSync('/app/x', 'x')");
    assert.notEqual(rootWrite.status, 0, 'the root file system is read-only');
    assert.match(rootWrite.stderr, /EROFS|read-only/i);
    assert.equal(exec("require('node:fs').writeFileSync('/tmp/x', 'x')").status, 0, '/tmp is the emptyDir');
    const env = JSON.parse(exec('process.stdout.write(JSON.stringify(process.env))').stdout) as Record<string, string>;
    const wanted = deployment.spec.template.spec.containers[0].env as Array<{ name: string; value: string }>;
    for (const { name: variable, value } of wanted) assert.equal(env[variable], value, variable);
  });
});
