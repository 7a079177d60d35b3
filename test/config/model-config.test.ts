import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelConfigFile, parseModelConfigText } from '../../src/config/load-model-config.js';
import { fullShape, toVersionPolicy } from '../../src/config/model-config.js';
import { ServingError } from '../../src/errors/serving-error.js';

const SOURCE = 'models/ocr/config.yaml';

/** The problems a CONFIG_INVALID error lists, without the "<source>: " prefix. */
function problemsOf(text: string): string[] {
  try {
    parseModelConfigText(text, SOURCE);
  } catch (error) {
    assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.ok(error.message.startsWith(`${SOURCE}: `), error.message);
    return error.message.slice(SOURCE.length + 2).split('; ');
  }
  assert.fail(`expected CONFIG_INVALID for:\n${text}`);
}

describe('parseModelConfigText: valid configs', () => {
  test('a full config with Triton names', () => {
    const text = `
name: ocr
platform: onnxruntime_onnx
backend: onnxruntime
max_batch_size: 8
input:
  - name: x
    data_type: TYPE_FP32
    dims: [3, -1, 320]
  - name: ids
    data_type: INT64
output:
  - name: y
    data_type: TYPE_STRING
    dims: [-1]
version_policy:
  latest:
    num_versions: 2
instance_group:
  count: 2
  intra_op_threads: 1
  kind: KIND_CPU
default_model_filename: rec.onnx
parameters:
  threshold: 0.5
  label: digits
  verbose: true
`;
    assert.deepEqual(parseModelConfigText(text, SOURCE), {
      name: 'ocr',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 8,
      input: [
        { name: 'x', data_type: 'FP32', dims: [3, -1, 320] },
        { name: 'ids', data_type: 'INT64' },
      ],
      output: [{ name: 'y', data_type: 'BYTES', dims: [-1] }],
      version_policy: { latest: { num_versions: 2 } },
      instance_group: { count: 2, intra_op_threads: 1, kind: 'KIND_CPU' },
      default_model_filename: 'rec.onnx',
      parameters: { threshold: 0.5, label: 'digits', verbose: true },
    });
  });

  test('data_type accepts TYPE_X and X for every datatype, and STRING / TYPE_STRING mean BYTES', () => {
    const pairs: Array<[string, string]> = [
      ['TYPE_BOOL', 'BOOL'],
      ['UINT8', 'UINT8'],
      ['TYPE_UINT16', 'UINT16'],
      ['TYPE_UINT32', 'UINT32'],
      ['TYPE_UINT64', 'UINT64'],
      ['INT8', 'INT8'],
      ['TYPE_INT16', 'INT16'],
      ['TYPE_INT32', 'INT32'],
      ['TYPE_INT64', 'INT64'],
      ['TYPE_FP16', 'FP16'],
      ['FP32', 'FP32'],
      ['TYPE_FP64', 'FP64'],
      ['BYTES', 'BYTES'],
      ['TYPE_STRING', 'BYTES'],
      ['STRING', 'BYTES'],
    ];
    for (const [written, parsed] of pairs) {
      const config = parseModelConfigText(`input: [{name: x, data_type: ${written}}]`, SOURCE);
      assert.equal(config.input?.[0]?.data_type, parsed, written);
    }
  });

  test('version_policy: latest, all and specific', () => {
    assert.deepEqual(parseModelConfigText('version_policy: {latest: {num_versions: 3}}', SOURCE).version_policy, {
      latest: { num_versions: 3 },
    });
    assert.deepEqual(parseModelConfigText('version_policy: {all: {}}', SOURCE).version_policy, { all: {} });
    assert.deepEqual(parseModelConfigText('version_policy: {specific: {versions: [1, 3]}}', SOURCE).version_policy, {
      specific: { versions: [1, 3] },
    });
  });

  test('instance_group as an object or as a one-element list (Triton style) gives the same group', () => {
    const asObject = parseModelConfigText('instance_group: {count: 3, kind: KIND_AUTO}', SOURCE);
    const asList = parseModelConfigText('instance_group:\n  - count: 3\n    kind: KIND_AUTO\n', SOURCE);
    assert.deepEqual(asObject.instance_group, { count: 3, kind: 'KIND_AUTO' });
    assert.deepEqual(asList.instance_group, { count: 3, kind: 'KIND_AUTO' });
  });

  test('max_batch_size 0 is accepted (no batching)', () => {
    assert.equal(parseModelConfigText('max_batch_size: 0', SOURCE).max_batch_size, 0);
  });

  test('empty text, a comment only, and null all mean an empty config', () => {
    assert.deepEqual(parseModelConfigText('', SOURCE), {});
    assert.deepEqual(parseModelConfigText('# nothing here\n', SOURCE), {});
    assert.deepEqual(parseModelConfigText('null', SOURCE), {});
  });
});

describe('parseModelConfigText: errors name the field path', () => {
  test('a string max_batch_size', () => {
    assert.deepEqual(problemsOf('max_batch_size: eight'), ['max_batch_size: Invalid input: expected number, received string']);
  });

  test('a negative and a fractional max_batch_size', () => {
    assert.deepEqual(problemsOf('max_batch_size: -1'), ['max_batch_size: Too small: expected number to be >=0']);
    assert.deepEqual(problemsOf('max_batch_size: 1.5'), ['max_batch_size: Invalid input: expected int, received number']);
  });

  test('traffic and rollout sections: each mistake with its path', () => {
    assert.deepEqual(problemsOf('traffic:\n  weights: { v1: 90, 2: 0 }\n  shadow: { version: two, percent: 120 }\n'), [
      'traffic.weights.v1: keys are version numbers, e.g. 1 or 2',
      'traffic.shadow.version: expected a version number such as 2, got "two"',
      'traffic.shadow.percent: Too big: expected number to be <=100',
    ]);
    assert.deepEqual(problemsOf('rollout:\n  to: 2\n  steps: [25, 10]\n  interval: 1 minute\n  min_success_rate: 99\n'), [
      'rollout.steps: steps must increase',
      'rollout.interval: expected a duration such as 30s, 1m or 1m30s (or milliseconds), got "1 minute"',
      'rollout.min_success_rate: Too big: expected number to be <=1',
    ]);
    assert.deepEqual(problemsOf('traffic:\n  weights: { 1: 0 }\n'), ['traffic.weights: at least one weight must be above 0']);
    const parsed = parseModelConfigText('traffic:\n  weights: { 1: 90, 2: 10 }\nrollout: { to: 3, interval: 30s, step_deadline: 2m }\n', SOURCE);
    assert.deepEqual(parsed.traffic, { weights: { '1': 90, '2': 10 } });
    assert.deepEqual(parsed.rollout, { to: 3, interval: 30_000, step_deadline: 120_000 });
  });

  test('a -2 dim names input.0.dims.1', () => {
    assert.deepEqual(problemsOf('input:\n  - name: x\n    dims: [3, -2]\n'), [
      'input.0.dims.1: a dimension is a non-negative integer, or -1 for variable',
    ]);
  });

  test('an output dim names output.1.dims.0', () => {
    assert.deepEqual(problemsOf('output: [{name: a}, {name: b, dims: [-5]}]'), [
      'output.1.dims.0: a dimension is a non-negative integer, or -1 for variable',
    ]);
  });

  test('an unknown top-level key is reported', () => {
    assert.deepEqual(problemsOf('max_batch_size: 4\ndynamic_batchin: {}\n'), ['Unrecognized key: "dynamic_batchin"']);
  });

  test('an unknown key inside an input is reported with its path', () => {
    assert.deepEqual(problemsOf('input: [{name: x, shape: [1]}]'), ['input.0: Unrecognized key: "shape"']);
  });

  test('an unknown data_type lists the valid ones', () => {
    assert.deepEqual(problemsOf('input: [{name: x}, {name: y, data_type: TYPE_FLOAT}]'), [
      'input.1.data_type: expected one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES (optionally prefixed TYPE_)',
    ]);
  });

  test('version_policy.latest.num_versions must be positive', () => {
    assert.deepEqual(problemsOf('version_policy: {latest: {num_versions: 0}}'), [
      'version_policy.latest.num_versions: Too small: expected number to be >0',
    ]);
  });

  test('version_policy.specific.versions must not be empty', () => {
    assert.deepEqual(problemsOf('version_policy: {specific: {versions: []}}'), [
      'version_policy.specific.versions: Too small: expected array to have >=1 items',
    ]);
  });

  test('instance_group.handoff is message or shared, and a wrong one names its path', () => {
    assert.deepEqual(parseModelConfigText('instance_group: { handoff: shared }', SOURCE).instance_group, { handoff: 'shared' });
    const [problem] = problemsOf('instance_group: { handoff: atomics }');
    assert.match(problem!, /^instance_group\.handoff: .*"message".*"shared"/);
  });

  test('an instance_group list with two groups is refused', () => {
    assert.deepEqual(problemsOf('instance_group: [{count: 1}, {count: 2}]'), ['instance_group: Invalid input: expected object, received array']);
  });

  test(
    'an instance_group with count 0 names instance_group.count',
    () => {
      const problems = problemsOf('instance_group: {count: 0}');
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /^instance_group\.count: /);
    },
  );

  test('a wrong platform is refused', () => {
    assert.deepEqual(problemsOf('platform: tensorflow_savedmodel'), [
      'platform: expected onnxruntime_onnx (a model file) or ensemble (a Triton ensemble), or put a KServe InferenceGraph in inference-graph.yaml',
    ]);
  });

  test('every problem is reported at once', () => {
    const problems = problemsOf(`
max_batch_size: many
input:
  - name: x
    dims: [-3]
output: {name: y}
colour: blue
`);
    assert.deepEqual([...problems].sort(), [
      'Unrecognized key: "colour"',
      'input.0.dims.0: a dimension is a non-negative integer, or -1 for variable',
      'max_batch_size: Invalid input: expected number, received string',
      'output: Invalid input: expected array, received object',
    ]);
  });

  test('a YAML list or scalar at the top level is refused', () => {
    assert.deepEqual(problemsOf('- 1\n- 2\n'), ['Invalid input: expected object, received array']);
    assert.deepEqual(problemsOf('hello'), ['Invalid input: expected object, received string']);
  });

  test('invalid YAML is CONFIG_INVALID naming the file', () => {
    assert.throws(
      () => parseModelConfigText('input: [\n', SOURCE),
      (error: unknown) => {
        assert.ok(error instanceof ServingError);
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, /^models\/ocr\/config\.yaml: not valid YAML: /);
        return true;
      },
    );
  });

  test('duplicate YAML keys are CONFIG_INVALID', () => {
    assert.throws(
      () => parseModelConfigText('max_batch_size: 1\nmax_batch_size: 2\n', SOURCE),
      (error: unknown) => error instanceof ServingError && error.code === 'CONFIG_INVALID' && /not valid YAML: Map keys must be unique/.test(error.message),
    );
  });
});

describe('loadModelConfigFile', () => {
  test('a missing file is an empty config; an existing one is parsed; a bad one names its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-config-'));
    try {
      assert.deepEqual(await loadModelConfigFile(join(dir, 'config.yaml')), {});
      await writeFile(join(dir, 'config.yaml'), 'max_batch_size: 4\n');
      assert.deepEqual(await loadModelConfigFile(join(dir, 'config.yaml')), { max_batch_size: 4 });
      await writeFile(join(dir, 'bad.yaml'), 'max_batch_size: x\n');
      await assert.rejects(loadModelConfigFile(join(dir, 'bad.yaml')), (error: unknown) => {
        assert.ok(error instanceof ServingError);
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.equal(error.message, `${join(dir, 'bad.yaml')}: max_batch_size: Invalid input: expected number, received string`);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('toVersionPolicy and fullShape', () => {
  test('no policy means the latest version only', () => {
    assert.deepEqual(toVersionPolicy(undefined), { kind: 'latest', numVersions: 1 });
  });
  test('file policies map to their internal form', () => {
    assert.deepEqual(toVersionPolicy({ latest: { num_versions: 2 } }), { kind: 'latest', numVersions: 2 });
    assert.deepEqual(toVersionPolicy({ all: {} }), { kind: 'all' });
    assert.deepEqual(toVersionPolicy({ specific: { versions: [4, 1] } }), { kind: 'specific', versions: [4, 1] });
  });
  test('fullShape adds the -1 batch dimension only when the model batches', () => {
    const spec = { name: 'x', datatype: 'FP32' as const, dims: [3, 4] };
    assert.deepEqual(fullShape({ maxBatchSize: 8 }, spec), [-1, 3, 4]);
    assert.deepEqual(fullShape({ maxBatchSize: 0 }, spec), [3, 4]);
  });
});
