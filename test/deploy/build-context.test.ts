import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadProjectConfig, type ProjectConfig } from '../../src/config/project-config.js';
import { writeBuildContext, type BuildContext } from '../../src/deploy/build-context.js';

/**
 * A small project that depends on slipway (as `slipway init` projects do), with everything the
 * staging must tell apart: dev and production packages, a nested one, an optional one for another
 * platform, node-gyp leftovers, other platforms' binaries, and a model linked from outside.
 */
async function makeProject(root: string, yaml = ''): Promise<string> {
  const file = async (path: string, content: string | Buffer = ''): Promise<void> => {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  };
  const pkg = (name: string, version: string): string => JSON.stringify({ name, version });
  await file(
    'package.json',
    JSON.stringify({ name: 'demo', version: '1.2.3', scripts: { prepare: 'tsc' }, dependencies: { slipway: '0.1.0', addon: '1.0.0' }, devDependencies: { devtool: '2.0.0' } }),
  );
  await file(
    'package-lock.json',
    JSON.stringify({
      name: 'demo',
      lockfileVersion: 3,
      packages: {
        '': { name: 'demo', version: '1.2.3' },
        'node_modules/slipway': { version: '0.1.0' },
        'node_modules/addon': { version: '1.0.0', hasInstallScript: true },
        'node_modules/addon/node_modules/nested': { version: '0.0.1' },
        'node_modules/onnxruntime-node': { version: '1.30.0' },
        'node_modules/onnxruntime-web': { version: '1.30.0' },
        'node_modules/@img/sharp-darwin-arm64': { version: '0.35.5', optional: true },
        'node_modules/devtool': { version: '2.0.0', dev: true },
        'node_modules/dev-only-optional': { version: '1.0.0', devOptional: true },
      },
    }),
  );
  await file('.npmrc', 'onnxruntime-node-install=skip\n//registry.npmjs.org/:_authToken=secret-token\n');
  await file('node_modules/slipway/package.json', pkg('slipway', '0.1.0'));
  await file('node_modules/slipway/dist/src/cli/main.js', '// the CLI\n');
  await file('node_modules/addon/package.json', pkg('addon', '1.0.0'));
  await file('node_modules/addon/index.js', 'module.exports = 1;\n');
  await file('node_modules/addon/build/Release/addon.node', 'ELF');
  await file('node_modules/addon/build/Release/obj.target/addon/src/addon.o', 'object');
  await file('node_modules/addon/node_modules/nested/package.json', pkg('nested', '0.0.1'));
  await file('node_modules/addon/node_modules/stray/package.json', pkg('stray', '9.9.9'));
  await file('node_modules/onnxruntime-node/package.json', pkg('onnxruntime-node', '1.30.0'));
  await file('node_modules/onnxruntime-node/dist/index.js', '');
  for (const platform of ['linux/x64', 'linux/arm64', 'darwin/arm64', 'win32/x64']) {
    await file(`node_modules/onnxruntime-node/bin/napi-v6/${platform}/onnxruntime_binding.node`, platform);
  }
  await file('node_modules/onnxruntime-web/package.json', pkg('onnxruntime-web', '1.30.0'));
  for (const build of ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.wasm', 'ort.all.min.js', 'ort-wasm-simd-threaded.jsep.wasm']) {
    await file(`node_modules/onnxruntime-web/dist/${build}`, build);
  }
  await file('node_modules/devtool/package.json', pkg('devtool', '2.0.0'));
  await file('node_modules/dev-only-optional/package.json', pkg('dev-only-optional', '1.0.0'));
  await mkdir(join(root, 'node_modules/.bin'), { recursive: true });
  await symlink('../devtool/package.json', join(root, 'node_modules/.bin/devtool'));

  await file('models/digits/config.yaml', 'max_batch_size: 8\n');
  await file('models/digits/1/model.onnx', Buffer.from([1, 2, 3]));
  await file('models/digits/handler.ts', 'export default {};\n');
  await file('models/digits/.notes', 'private');
  await file('models/digits/__pycache__/train.cpython-311.pyc', 'cache');
  await file('weights/big.onnx', Buffer.alloc(4096, 7));
  await mkdir(join(root, 'models/linked/1'), { recursive: true });
  await symlink('../../../weights/big.onnx', join(root, 'models/linked/1/model.onnx'));
  await file('lib/util.ts', 'export const x = 1;\n');
  await file(
    'slipway.yaml',
    yaml ||
      `name: demo
models: [models]
include: [lib]
server: { log_level: warn }
runtime:
  environment: { MODE: fast }
  resources: { cpu: 1500m, memory: 512Mi, gpu: 1 }
`,
  );
  return join(root, 'slipway.yaml');
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

describe('writeBuildContext on a project that depends on slipway', () => {
  let root: string;
  let project: ProjectConfig;
  let context: BuildContext;
  let files: string[];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'slipway-build-'));
    project = await loadProjectConfig(await makeProject(root));
    context = await writeBuildContext(project, { outDir: 'out/context', imageTag: 'registry.example/demo:1.2.3', dependencies: 'staged' });
    files = await listFiles(context.dir);
  });
  after(async () => rm(root, { recursive: true, force: true }));

  test('the context holds the Containerfile, .dockerignore, the app, the models and production dependencies', () => {
    assert.equal(context.dir, join(root, 'out/context'));
    for (const expected of [
      'Containerfile',
      '.dockerignore',
      'app/package.json',
      'app/package-lock.json',
      'app/slipway.yaml',
      'app/healthcheck.mjs',
      'app/lib/util.ts',
      'models/SHA256SUMS',
      'models/digits/config.yaml',
      'models/digits/1/model.onnx',
      'models/digits/handler.ts',
      'models/linked/1/model.onnx',
      'deps/node_modules/slipway/dist/src/cli/main.js',
      'deps/node_modules/addon/index.js',
      'deps/node_modules/addon/build/Release/addon.node',
      'deps/node_modules/addon/node_modules/nested/package.json',
      'kubernetes.yaml',
      'monitoring.yaml',
      'prometheus-adapter-values.yaml',
      'kserve.yaml',
      'knative.yaml',
    ]) {
      assert.ok(files.includes(expected), `${expected} missing from:\n${files.join('\n')}`);
    }
    assert.match(files.join('\n'), /^\.slipway-context$/m);
  });

  test('dev dependencies, unlisted packages, .bin links, build leftovers and other platforms stay out', () => {
    const forbidden = [/devtool/, /dev-only-optional/, /\/stray\//, /\.bin\//, /obj\.target/, /sharp-darwin/, /\.notes$/, /__pycache__/];
    for (const pattern of forbidden) assert.deepEqual(files.filter((f) => pattern.test(f)), [], `${pattern}`);
    const binaries = files.filter((f) => f.includes('onnxruntime-node/bin/'));
    assert.deepEqual(binaries, [`deps/node_modules/onnxruntime-node/bin/napi-v6/linux/${process.arch}/onnxruntime_binding.node`]);
    // The browser runtime keeps only the builds an edge bundle ships.
    assert.deepEqual(files.filter((f) => f.includes('onnxruntime-web/dist/')).sort(), [
      'deps/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm',
      'deps/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs',
    ]);
    assert.deepEqual(context.dependencies.skippedOptional, ['node_modules/@img/sharp-darwin-arm64']);
    assert.equal(context.dependencies.packages, 5);
    assert.equal(context.dependencies.mode, 'staged');
  });

  test('a model linked from elsewhere arrives as a file with the bytes it pointed at', async () => {
    const linked = join(context.dir, 'models/linked/1/model.onnx');
    assert.ok((await lstat(linked)).isFile());
    assert.equal(await sha256(linked), await sha256(join(root, 'weights/big.onnx')));
  });

  test('models/SHA256SUMS lists every model file with its hash, in sha256sum format', async () => {
    const lines = (await readFile(join(context.dir, 'models/SHA256SUMS'), 'utf8')).trim().split('\n');
    const listed = lines.map((l) => /^([0-9a-f]{64}) {2}(.+)$/.exec(l)!).map((m) => [m[2]!, m[1]!] as const);
    assert.deepEqual(
      listed.map(([path]) => path),
      files.filter((f) => f.startsWith('models/') && f !== 'models/SHA256SUMS').map((f) => f.slice('models/'.length)),
    );
    for (const [path, hash] of listed) assert.equal(hash, await sha256(join(context.dir, 'models', path)), path);
  });

  test('the app: package.json without lifecycle scripts, and a slipway.yaml serving the copied models', async () => {
    const pkg = JSON.parse(await readFile(join(context.dir, 'app/package.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(pkg.scripts, undefined);
    assert.deepEqual(pkg.dependencies, { slipway: '0.1.0', addon: '1.0.0' });
    const inner = parseYaml(await readFile(join(context.dir, 'app/slipway.yaml'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(inner, { name: 'demo', models: ['models'], server: { log_level: 'warn' } });
  });

  test("the Containerfile runs the dependency's slipway CLI, with the project's environment, cores and labels", async () => {
    const text = await readFile(join(context.dir, 'Containerfile'), 'utf8');
    assert.match(text, /^ENTRYPOINT \["node","\/app\/node_modules\/slipway\/dist\/src\/cli\/main\.js"\]$/m);
    assert.match(text, /^ENV MODE="fast"$/m);
    assert.match(text, /SLIPWAY_CORES="2"/, '1500m rounds up to 2 cores');
    assert.match(text, /io\.slipway\.models="digits,linked"/);
    assert.match(text, /io\.slipway\.resources\.gpu="1"/);
    assert.match(text, /org\.opencontainers\.image\.version="1\.2\.3"/);
    assert.deepEqual(
      context.models.map((m) => [m.name, m.handler]),
      [
        ['digits', 'handler.ts'],
        ['linked', undefined],
      ],
    );
  });

  test('kubernetes.yaml: a Deployment with the requests, GPU limit, probes and non-root user, and a Service', async () => {
    const [deployment, service] = parseAllDocuments(await readFile(join(context.dir, 'kubernetes.yaml'), 'utf8')).map((d) => d.toJS());
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.image, 'registry.example/demo:1.2.3');
    assert.deepEqual(container.resources, { requests: { cpu: '1500m', memory: '512Mi' }, limits: { memory: '512Mi', 'nvidia.com/gpu': 1 } });
    assert.equal(container.readinessProbe.httpGet.path, '/v2/health/ready');
    assert.equal(container.livenessProbe.httpGet.path, '/v2/health/live');
    assert.deepEqual(container.ports, [
      { name: 'http', containerPort: 8000, protocol: 'TCP' },
      { name: 'grpc', containerPort: 8001, protocol: 'TCP' },
      { name: 'health', containerPort: 8003, protocol: 'TCP' },
    ]);
    assert.equal(container.livenessProbe.httpGet.port, 'health', 'probes use the health port, not the Service');
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    assert.equal(service.kind, 'Service');
    assert.deepEqual(service.spec.ports.map((p: { port: number }) => p.port), [8000, 8001]);
  });

  test('the same inputs give the same digest; one changed byte of a model changes it, and restoring it restores it', async () => {
    const again = await writeBuildContext(project, { outDir: 'out/again', imageTag: 'other:tag', dependencies: 'staged' });
    assert.equal(again.digest, context.digest, 'the image tag is not a context input');
    assert.match(again.digest, /^sha256:[0-9a-f]{64}$/);
    const weights = join(root, 'weights/big.onnx');
    const original = await readFile(weights);
    const changed = Buffer.from(original);
    changed[100] = 8;
    await writeFile(weights, changed);
    try {
      const edited = await writeBuildContext(project, { outDir: 'out/again', imageTag: 'other:tag', dependencies: 'staged' });
      assert.notEqual(edited.digest, context.digest);
    } finally {
      await writeFile(weights, original);
    }
    const restored = await writeBuildContext(project, { outDir: 'out/again', imageTag: 'other:tag', dependencies: 'staged' });
    assert.equal(restored.digest, context.digest);
  });

  test('install mode: npm ci in a build stage, with the .npmrc minus its credentials, and no staged node_modules', async () => {
    const install = await writeBuildContext(project, { outDir: 'out/install', imageTag: 'demo', dependencies: 'install' });
    const listed = await listFiles(install.dir);
    assert.deepEqual(listed.filter((f) => f.startsWith('npm/')), ['npm/.npmrc', 'npm/package-lock.json', 'npm/package.json']);
    assert.deepEqual(listed.filter((f) => f.startsWith('deps/')), []);
    assert.equal(await readFile(join(install.dir, 'npm/.npmrc'), 'utf8'), 'onnxruntime-node-install=skip\n');
    assert.match(await readFile(join(install.dir, 'Containerfile'), 'utf8'), /^RUN npm ci --omit=dev/m);
    assert.equal(install.dependencies.packages, 6, "the lockfile's production entries: what npm ci will install");
  });
});

describe('writeBuildContext refuses, naming what is wrong', () => {
  let root: string;
  let project: ProjectConfig;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'slipway-build-errors-'));
    project = await loadProjectConfig(await makeProject(root));
  });
  after(async () => rm(root, { recursive: true, force: true }));

  const build = (outDir = 'out/ctx', p: ProjectConfig = project): Promise<BuildContext> =>
    writeBuildContext(p, { outDir, imageTag: 'demo', dependencies: 'staged' });

  test('an output folder it did not write, or the project itself; an earlier context is replaced', async () => {
    await mkdir(join(root, 'mine'), { recursive: true });
    await writeFile(join(root, 'mine/keep.txt'), 'precious');
    await assert.rejects(build('mine'), /--out .*mine holds files that slipway build did not write/);
    assert.equal(await readFile(join(root, 'mine/keep.txt'), 'utf8'), 'precious');
    await assert.rejects(build('.'), /would replace the project itself/);
    await build('out/ctx');
    await writeFile(join(root, 'out/ctx/leftover'), 'old');
    await build('out/ctx');
    assert.deepEqual((await readdir(join(root, 'out/ctx'))).filter((f) => f === 'leftover'), []);
  });

  test('node_modules out of step with the lockfile: every package named with both versions', async () => {
    await writeFile(join(root, 'node_modules/addon/package.json'), JSON.stringify({ name: 'addon', version: '1.0.1' }));
    await rm(join(root, 'node_modules/addon/node_modules/nested'), { recursive: true });
    try {
      await assert.rejects(
        build(),
        (error: Error) =>
          /node_modules does not match package-lock\.json \(run `npm ci` first\)/.test(error.message) &&
          /node_modules\/addon is 1\.0\.1, package-lock\.json pins 1\.0\.0/.test(error.message) &&
          /node_modules\/addon\/node_modules\/nested is not installed/.test(error.message),
      );
    } finally {
      await writeFile(join(root, 'node_modules/addon/package.json'), JSON.stringify({ name: 'addon', version: '1.0.0' }));
      await mkdir(join(root, 'node_modules/addon/node_modules/nested'), { recursive: true });
      await writeFile(join(root, 'node_modules/addon/node_modules/nested/package.json'), JSON.stringify({ name: 'nested', version: '0.0.1' }));
    }
    await assert.doesNotReject(build(), 'the repaired project builds');
  });

  test('a model whose link is broken is named', async () => {
    await mkdir(join(root, 'models/broken/1'), { recursive: true });
    await symlink('../../../weights/gone.onnx', join(root, 'models/broken/1/model.onnx'));
    try {
      await assert.rejects(build(), /model 'broken': cannot copy .*model\.onnx: missing \(a broken symlink\?/);
    } finally {
      await rm(join(root, 'models/broken'), { recursive: true });
    }
  });

  test('an include that does not exist is named by its place in slipway.yaml', async () => {
    await assert.rejects(build('out/ctx', { ...project, include: ['lib', 'nope'] }), /slipway\.yaml: include\[1\]: nope does not exist/);
  });

  test('no lockfile, or slipway not among the production dependencies', async () => {
    const lock = await readFile(join(root, 'package-lock.json'), 'utf8');
    try {
      const parsed = JSON.parse(lock) as { packages: Record<string, { dev?: boolean }> };
      parsed.packages['node_modules/slipway']!.dev = true;
      await writeFile(join(root, 'package-lock.json'), JSON.stringify(parsed));
      await assert.rejects(build(), /slipway is not a production dependency of .*package\.json: run `npm install slipway`/);
      await rm(join(root, 'package-lock.json'));
      await assert.rejects(build(), /installs production dependencies from .*package-lock\.json, but it does not exist/);
    } finally {
      await writeFile(join(root, 'package-lock.json'), lock);
    }
  });

  test('a failed build leaves no partial folder behind', async () => {
    const before = await readdir(join(root, 'out'));
    await assert.rejects(build('out/ctx', { ...project, include: ['missing'] }));
    assert.deepEqual(await readdir(join(root, 'out')), before);
  });
});
