import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_BASE_IMAGE,
  IMAGE_MALLOC_ENV,
  quote,
  renderContainerfile,
  renderDockerignore,
  type ContainerfileSpec,
} from '../../src/deploy/containerfile.js';
import { buildCommand, shellLine } from '../../src/deploy/container-engine.js';

const spec: ContainerfileSpec = {
  projectName: 'demo',
  slipwayVersion: '0.1.0',
  baseImage: DEFAULT_BASE_IMAGE,
  entrypoint: 'dist/src/cli/main.js',
  dependencies: 'staged',
  debianPackages: [],
  environment: {},
  ports: { http: 8000, grpc: 8001 },
  labels: { 'com.amazonaws.sagemaker.capabilities.accept-bind-to-port': 'true' },
};

/** Instructions (first word of each logical line), continuation lines joined. */
function instructions(containerfile: string): string[] {
  return containerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('renderContainerfile', () => {
  test("the image sets glibc's malloc variables, the ones npm start and the abuse bench use (IMAGE_MALLOC_ENV)", () => {
    const env = instructions(renderContainerfile(spec)).find((l) => l.startsWith('ENV '))!;
    assert.ok(Object.keys(IMAGE_MALLOC_ENV).length > 0);
    for (const [name, value] of Object.entries(IMAGE_MALLOC_ENV)) assert.ok(env.includes(` ${name}=${quote(value)}`), `${name} missing from ${env}`);
    assert.equal(IMAGE_MALLOC_ENV.MALLOC_MMAP_THRESHOLD_, '1048576');
  });

  test('the base image is a build argument defaulting to Node 20 slim, declared before FROM', () => {
    const lines = instructions(renderContainerfile(spec));
    assert.equal(lines[0], 'ARG BASE_IMAGE=docker.io/library/node:20-bookworm-slim');
    assert.equal(lines[1], 'FROM ${BASE_IMAGE}');
  });

  test('non-root numeric user, ports 8000/8001, health check on readiness, serve by default', () => {
    const text = renderContainerfile(spec);
    const lines = instructions(text);
    assert.ok(lines.includes('USER 10001:10001'));
    assert.ok(lines.includes('EXPOSE 8000 8001'));
    assert.ok(lines.includes('ENTRYPOINT ["node","/app/dist/src/cli/main.js"]'));
    assert.ok(lines.includes('CMD ["serve"]'));
    assert.match(text, /^HEALTHCHECK .*--start-period=\d+s.* CMD \["node","\/app\/healthcheck\.mjs"\]$/m);
    assert.match(text, /com\.amazonaws\.sagemaker\.capabilities\.accept-bind-to-port="true"/);
    // The user comes after every COPY: files stay root's, so the server cannot rewrite them.
    assert.ok(lines.findIndex((l) => l.startsWith('USER')) > lines.findLastIndex((l) => l.startsWith('COPY')));
  });

  test('staged: no RUN at all (a base without a shell works); layers go node_modules, models, app', () => {
    const lines = instructions(renderContainerfile(spec));
    assert.equal(lines.filter((l) => l.startsWith('RUN')).length, 0);
    assert.deepEqual(
      lines.filter((l) => l.startsWith('COPY')),
      ['COPY deps/node_modules/ /app/node_modules/', 'COPY models/ /app/models/', 'COPY app/ /app/'],
    );
  });

  test('install: a build stage runs npm ci --omit=dev and only node_modules reach the final image', () => {
    const lines = instructions(renderContainerfile({ ...spec, dependencies: 'install' }));
    assert.deepEqual(lines.filter((l) => l.startsWith('FROM')), ['FROM ${BASE_IMAGE} AS dependencies', 'FROM ${BASE_IMAGE}']);
    assert.ok(lines.some((l) => /^RUN npm ci --omit=dev/.test(l)));
    assert.ok(lines.includes('COPY --from=dependencies /app/node_modules/ /app/node_modules/'));
  });

  test('Debian packages: one apt-get layer before the app, lists removed; none when none are asked for', () => {
    const lines = instructions(renderContainerfile({ ...spec, debianPackages: ['libgomp1', 'tzdata'] }));
    const run = lines.filter((l) => l.startsWith('RUN'));
    assert.equal(run.length, 1);
    assert.match(run[0]!, /apt-get update .* apt-get install -y --no-install-recommends libgomp1 tzdata .* rm -rf \/var\/lib\/apt\/lists\/\*/);
    assert.ok(lines.indexOf(run[0]!) < lines.findIndex((l) => l.startsWith('COPY')));
  });

  test('environment: the image listens on every interface at its ports; user variables are quoted literally', () => {
    const text = renderContainerfile({ ...spec, ports: { http: 9000, grpc: 9001 }, cores: 2, environment: { B: 'x', A: 'cost: $5 "q" \\n' } });
    assert.match(text, /SLIPWAY_HOST="0\.0\.0\.0"/);
    assert.match(text, /SLIPWAY_HTTP_PORT="9000"/);
    assert.match(text, /SLIPWAY_GRPC_PORT="9001"/);
    assert.match(text, /SLIPWAY_CORES="2"/);
    assert.match(text, /EXPOSE 9000 9001/);
    // Sorted, and $ escaped so the builder does not substitute it.
    assert.match(text, /ENV A="cost: \\\$5 \\"q\\" \\\\n" \\\n {4}B="x"/);
  });

  test('equal specs give byte-equal files (no dates, no machine names)', () => {
    assert.equal(renderContainerfile(spec), renderContainerfile({ ...spec, labels: { ...spec.labels } }));
  });

  test('quote escapes exactly the characters that Dockerfile ENV/LABEL values interpret', () => {
    assert.equal(quote('plain'), '"plain"');
    assert.equal(quote('a"b\\c$d'), '"a\\"b\\\\c\\$d"');
  });

  test('.dockerignore keeps the bookkeeping out', () => {
    assert.match(renderDockerignore(), /^\.slipway-context$/m);
  });
});

describe('buildCommand', () => {
  const build = { contextDir: '/tmp/ctx', tag: 'demo:latest', buildArgs: { BASE_IMAGE: 'localhost/base' }, labels: { 'io.slipway.context-digest': 'sha256:ab' } };

  test('podman builds in docker format, or HEALTHCHECK would be dropped', () => {
    assert.deepEqual(buildCommand({ ...build, engine: 'podman' }), [
      'podman', 'build', '-f', '/tmp/ctx/Containerfile', '-t', 'demo:latest', '--format', 'docker',
      '--build-arg', 'BASE_IMAGE=localhost/base', '--label', 'io.slipway.context-digest=sha256:ab', '/tmp/ctx',
    ]);
  });

  test('docker gets the same build without the format flag; the printed line survives a shell', () => {
    const argv = buildCommand({ ...build, engine: 'docker', buildArgs: {}, contextDir: "/tmp/it's here" });
    assert.ok(!argv.includes('--format'));
    assert.ok(shellLine(argv).endsWith(` '/tmp/it'\\''s here/Containerfile' -t demo:latest --label io.slipway.context-digest=sha256:ab '/tmp/it'\\''s here'`), shellLine(argv));
  });
});
