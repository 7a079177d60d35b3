import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  findProjectConfig,
  loadProjectConfig,
  parseProjectConfigText,
  projectServerLayer,
} from '../../src/config/project-config.js';
import { resolveServerConfig } from '../../src/config/server-config.js';
import { ServingError } from '../../src/errors/serving-error.js';
import { ROOT } from '../helpers/paths.js';

/** The problem lines of a CONFIG_INVALID error about a project file. */
function problemsOf(text: string): string[] {
  try {
    parseProjectConfigText(text, '/project/slipway.yaml');
  } catch (error) {
    assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    const [head, ...lines] = error.message.split('\n  ');
    assert.equal(head, '/project/slipway.yaml: invalid project file:');
    return lines;
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('slipway.yaml: what a valid file gives', () => {
  test('runtime.scaling and runtime.storage_uri are checked', () => {
    assert.throws(
      () => parseProjectConfigText('name: a\nmodels: [m]\nruntime:\n  scaling: { min_replicas: 5, max_replicas: 2 }\n  storage_uri: models/digits\n', '/p/slipway.yaml'),
      (error: Error) =>
        /runtime\.scaling\.max_replicas: max_replicas must be at least min_replicas/.test(error.message) && /runtime\.storage_uri: expected a URI such as s3:\/\//.test(error.message),
    );
  });

  test('name and models alone: runtime defaults, no server settings, paths anchored at the file', () => {
    const project = parseProjectConfigText('name: demo\nmodels: [models, extra/m.onnx]\n', '/srv/demo/slipway.yaml');
    assert.equal(project.dir, '/srv/demo');
    assert.deepEqual(project.models, ['models', 'extra/m.onnx']);
    assert.deepEqual(project.include, []);
    assert.deepEqual(project.server, {});
    assert.deepEqual(project.runtime, {
      debian_packages: [],
      environment: {},
      resources: { gpu: 0 },
      ports: { http: 8000, grpc: 8001 },
      scaling: { min_replicas: 2, max_replicas: 10, cpu_utilization: 70, queue_depth: 8, concurrency: 16 },
    });
    assert.ok(Object.isFrozen(project.runtime.ports), 'the whole config is frozen');
  });

  test('every section, with values typed: environment values become strings, quantities stay as written', () => {
    const project = parseProjectConfigText(
      `name: ocr-service
models: [models]
include: [lib]
server: { log_level: debug, strict_readiness: true, default_max_batch_size: 8 }
runtime:
  base_image: registry.example/node:20
  debian_packages: [libgomp1, "tzdata=2024a-0+deb12u1"]
  environment: { WORKERS: 4, DEBUG: false, GREETING: "cost: $5" }
  resources: { cpu: 500m, memory: 1.5Gi, gpu: 1 }
  ports: { http: 9000, grpc: 9001 }
`,
      '/p/slipway.yaml',
    );
    assert.deepEqual(project.server, { log_level: 'debug', strict_readiness: true, default_max_batch_size: 8 });
    assert.deepEqual(project.runtime.environment, { WORKERS: '4', DEBUG: 'false', GREETING: 'cost: $5' });
    assert.deepEqual(project.runtime.resources, { cpu: '500m', memory: '1.5Gi', gpu: 1 });
    assert.deepEqual(project.runtime.ports, { http: 9000, grpc: 9001 });
    assert.deepEqual(project.runtime.debian_packages, ['libgomp1', 'tzdata=2024a-0+deb12u1']);
  });

  test("the repository's own slipway.yaml is valid and serves examples/models", async () => {
    const project = await loadProjectConfig(join(ROOT, 'slipway.yaml'));
    assert.deepEqual(project.models, ['examples/models']);
    assert.deepEqual(projectServerLayer(project).models, [join(ROOT, 'examples/models')]);
  });
});

describe('slipway.yaml: every problem at once, each with its field path', () => {
  test('a file wrong everywhere names every field', () => {
    const problems = problemsOf(`
name: Bad_Name
models: []
servr: 1
include: [../outside]
server: { http_port: 99999, models: [a] }
runtime:
  debian_packages: ["curl; rm -rf /"]
  environment: { SLIPWAY_HTTP_PORT: 1, bad-name: x, MULTI: "a\\nb", NESTED: { a: 1 } }
  resources: { memory: 2GB, cpu: two, gpu: -1 }
  ports: { http: 0 }
`);
    const expected = [
      /^name: expected 1-63 lower-case letters/,
      /^models: list at least one model repository/,
      /^include\.0: expected a path relative to slipway\.yaml that stays inside the project$/,
      /^server\.http_port: Too big/,
      /^server: Unrecognized key: "models"$/,
      /^runtime\.debian_packages\.0: expected a Debian package name/,
      /^runtime\.environment\.SLIPWAY_HTTP_PORT: set by the image; use runtime\.ports\.http$/,
      /^runtime\.environment\.bad-name: expected an environment variable name/,
      /^runtime\.environment\.MULTI: expected a single line/,
      /^runtime\.environment\.NESTED: expected a string, number or boolean, got object$/,
      /^runtime\.resources\.cpu: expected cores/,
      /^runtime\.resources\.memory: expected a Kubernetes quantity/,
      /^runtime\.resources\.gpu: Too small/,
      /^runtime\.ports\.http: Too small/,
      /^Unrecognized key: "servr"$/,
    ];
    for (const pattern of expected) assert.ok(problems.some((p) => pattern.test(p)), `no problem matching ${pattern} in:\n${problems.join('\n')}`);
    assert.equal(problems.length, expected.length, problems.join('\n'));
  });

  test('name and models are required', () => {
    const problems = problemsOf('runtime: {}\n');
    assert.ok(problems.some((p) => p.startsWith('name: ')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('models: ')), problems.join('\n'));
  });

  test('absolute paths are refused: the image would not have them', () => {
    assert.deepEqual(problemsOf('name: a\nmodels: [/srv/models]\n'), ['models.0: expected a path relative to slipway.yaml that stays inside the project']);
  });

  test('a server option of the wrong type is reported under server.', () => {
    assert.deepEqual(problemsOf('name: a\nmodels: [m]\nserver: { log_level: loud }\n').map((p) => p.split(':')[0]), ['server.log_level']);
  });

  test('not YAML, or no such file: the error names the file', async () => {
    assert.throws(() => parseProjectConfigText('name: [unclosed\n', '/p/slipway.yaml'), /\/p\/slipway\.yaml: not valid YAML/);
    await assert.rejects(loadProjectConfig('/nonexistent/slipway.yaml'), /cannot read project file \/nonexistent\/slipway\.yaml: no such file/);
  });
});

describe('slipway.yaml in the server options merge: defaults < file < environment < flags', () => {
  const project = parseProjectConfigText(
    'name: a\nmodels: [models]\nserver: { http_port: 7000, log_level: warn, body_limit_bytes: 1024 }\n',
    '/srv/a/slipway.yaml',
  );

  test('the file beats the defaults, and its models resolve against its folder', () => {
    const config = resolveServerConfig({}, {}, projectServerLayer(project));
    assert.equal(config.http_port, 7000);
    assert.equal(config.log_level, 'warn');
    assert.equal(config.body_limit_bytes, 1024);
    assert.equal(config.host, '127.0.0.1', 'options the file does not set keep their defaults');
    assert.deepEqual(config.models, ['/srv/a/models']);
  });

  test('the environment beats the file, and flags beat both', () => {
    const env = { SLIPWAY_HTTP_PORT: '7100', SLIPWAY_LOG_LEVEL: 'error' };
    const config = resolveServerConfig({ http_port: '7200', models: ['cli-models'] }, env, projectServerLayer(project));
    assert.equal(config.http_port, 7200);
    assert.equal(config.log_level, 'error');
    assert.equal(config.body_limit_bytes, 1024);
    assert.deepEqual(config.models, ['cli-models']);
  });

  test("a file that sets nothing cannot hide the environment behind the schema's defaults", () => {
    const bare = parseProjectConfigText('name: a\nmodels: [m]\nserver: {}\n', '/p/slipway.yaml');
    assert.equal(resolveServerConfig({}, { SLIPWAY_HOST: '0.0.0.0' }, projectServerLayer(bare)).host, '0.0.0.0');
  });

  test("SageMaker's SAGEMAKER_BIND_TO_PORT wins over SLIPWAY_HTTP_PORT; SLIPWAY_CORES sets the instance plan's cores", () => {
    const config = resolveServerConfig({}, { SLIPWAY_HTTP_PORT: '8000', SAGEMAKER_BIND_TO_PORT: '8080', SLIPWAY_CORES: '3' }, projectServerLayer(project));
    assert.equal(config.http_port, 8080);
    assert.equal(config.cores, 3);
    assert.throws(() => resolveServerConfig({ models: ['m'] }, { SLIPWAY_CORES: '0' }), /cores: /);
  });
});

describe('findProjectConfig', () => {
  test('uses ./slipway.yaml when present, nothing when absent, and insists on an explicit --config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-project-'));
    try {
      assert.equal(await findProjectConfig(undefined, dir), undefined);
      await writeFile(join(dir, 'slipway.yaml'), 'name: found\nmodels: [m]\n');
      assert.equal((await findProjectConfig(undefined, dir))?.name, 'found');
      await assert.rejects(findProjectConfig('other.yaml', dir), /cannot read project file .*other\.yaml: no such file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
