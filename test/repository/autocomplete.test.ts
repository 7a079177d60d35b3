import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { autocompleteConfig, defaultInstanceLayout, type AutocompleteDefaults } from '../../src/repository/autocomplete.js';
import type { ModelConfigFile } from '../../src/config/model-config.js';
import type { EngineSignature, GraphTensor } from '../../src/runtime/engine.js';
import { ServingError } from '../../src/errors/serving-error.js';

const DEFAULTS: AutocompleteDefaults = { defaultMaxBatchSize: 32, cores: 2, defaultMaxQueueWaitUs: 'auto' };

const t = (name: string, onnxType: string, dims: number[]): GraphTensor => ({ name, onnxType, dims });

/** x: float32 [-1,3,4], mask: bool [-1,-1] → y: int64 [-1,10] — every first dim variable, so it can batch. */
const BATCHABLE: EngineSignature = {
  inputs: [t('x', 'float32', [-1, 3, 4]), t('mask', 'bool', [-1, -1])],
  outputs: [t('y', 'int64', [-1, 10])],
};

/** Same, but the output has a fixed first dim. */
const FIXED: EngineSignature = {
  inputs: [t('x', 'float32', [-1, 3, 4]), t('mask', 'bool', [-1, -1])],
  outputs: [t('y', 'int64', [1, 10])],
};

function assertConfigInvalid(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe('autocompleteConfig: batch detection', () => {
  test('every input and output with a -1 first dim: batching at defaultMaxBatchSize, dims without dim 0', () => {
    assert.deepEqual(autocompleteConfig('m', {}, BATCHABLE, DEFAULTS), {
      name: 'm',
      platform: 'onnxruntime_onnx',
      maxBatchSize: 32,
      inputs: [
        { name: 'x', datatype: 'FP32', dims: [3, 4] },
        { name: 'mask', datatype: 'BOOL', dims: [-1] },
      ],
      outputs: [{ name: 'y', datatype: 'INT64', dims: [10] }],
      versionPolicy: { kind: 'latest', numVersions: 1 },
      instanceCount: 2,
      intraOpThreads: 1,
      scheduling: {
        dynamicBatching: true,
        preferredBatchSizes: [],
        maxQueueDelayUs: 0,
        maxQueueSize: 1024,
        defaultTimeoutUs: 0,
        maxQueueWaitUs: 'auto',
        priorityLevels: 0,
        defaultPriorityLevel: 0,
      },
      responseCache: false,
      responseCacheRawBody: true,
      defaultModelFilename: 'model.onnx',
      parameters: {},
    });
  });

  test('one fixed first dim (an output): no batching, full dims kept', () => {
    const config = autocompleteConfig('m', {}, FIXED, DEFAULTS);
    assert.equal(config.maxBatchSize, 0);
    assert.deepEqual(config.inputs.map((s) => s.dims), [[-1, 3, 4], [-1, -1]]);
    assert.deepEqual(config.outputs.map((s) => s.dims), [[1, 10]]);
  });

  test('a scalar tensor (dims []) means no batching', () => {
    const signature: EngineSignature = { inputs: [t('x', 'float32', [-1, 2])], outputs: [t('s', 'float32', [])] };
    const config = autocompleteConfig('m', {}, signature, DEFAULTS);
    assert.equal(config.maxBatchSize, 0);
    assert.deepEqual(config.outputs, [{ name: 's', datatype: 'FP32', dims: [] }]);
  });

  test('defaultMaxBatchSize 0 turns automatic batching off', () => {
    const config = autocompleteConfig('m', {}, BATCHABLE, { defaultMaxBatchSize: 0, cores: 2, defaultMaxQueueWaitUs: 'auto' });
    assert.equal(config.maxBatchSize, 0);
    assert.deepEqual(config.inputs[0]!.dims, [-1, 3, 4]);
  });

  test('config max_batch_size 0 on a batchable graph keeps full dims', () => {
    const config = autocompleteConfig('m', { max_batch_size: 0 }, BATCHABLE, DEFAULTS);
    assert.equal(config.maxBatchSize, 0);
    assert.deepEqual(config.inputs.map((s) => s.dims), [[-1, 3, 4], [-1, -1]]);
    assert.deepEqual(config.outputs.map((s) => s.dims), [[-1, 10]]);
  });

  test('config max_batch_size > 0 on a batchable graph is used as is', () => {
    const config = autocompleteConfig('m', { max_batch_size: 4 }, BATCHABLE, DEFAULTS);
    assert.equal(config.maxBatchSize, 4);
    assert.deepEqual(config.inputs[0]!.dims, [3, 4]);
  });

  test('config max_batch_size > 0 on a non-batchable graph is CONFIG_INVALID naming the tensor', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { max_batch_size: 8 }, FIXED, DEFAULTS),
      "max_batch_size: 8 needs a variable first dimension on every input and output, but 'y' has shape [1,10]",
    );
  });

  test('config max_batch_size > 0 with a scalar tensor names that tensor', () => {
    const signature: EngineSignature = { inputs: [t('k', 'int64', [])], outputs: [t('y', 'float32', [-1])] };
    assertConfigInvalid(
      () => autocompleteConfig('m', { max_batch_size: 2 }, signature, DEFAULTS),
      "max_batch_size: 2 needs a variable first dimension on every input and output, but 'k' has shape []",
    );
  });
});

describe('autocompleteConfig: merging the config file with the graph', () => {
  test('config dims may narrow a -1 (batch dimension excluded)', () => {
    const config = autocompleteConfig('m', { input: [{ name: 'mask', dims: [7] }] }, BATCHABLE, DEFAULTS);
    assert.deepEqual(config.inputs[1], { name: 'mask', datatype: 'BOOL', dims: [7] });
  });

  test('config dims equal to the graph dims are accepted', () => {
    const config = autocompleteConfig('m', { input: [{ name: 'x', data_type: 'FP32', dims: [3, 4] }] }, BATCHABLE, DEFAULTS);
    assert.deepEqual(config.inputs[0], { name: 'x', datatype: 'FP32', dims: [3, 4] });
  });

  test('config dims contradicting a fixed dim are refused with path input[0].dims', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { input: [{ name: 'x', dims: [3, 5] }] }, BATCHABLE, DEFAULTS),
      "input[0].dims: [3,5] does not fit the graph's 'x' dims [3,4] (batch dimension excluded)",
    );
  });

  test('config dims that widen a fixed dim to -1 are refused', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { input: [{ name: 'x', dims: [-1, 4] }] }, BATCHABLE, DEFAULTS),
      "input[0].dims: [-1,4] does not fit the graph's 'x' dims [3,4] (batch dimension excluded)",
    );
  });

  test('config dims of another rank are refused (no batching: full dims, no note)', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { output: [{ name: 'y', dims: [10] }] }, FIXED, DEFAULTS),
      "output[0].dims: [10] does not fit the graph's 'y' dims [1,10]",
    );
  });

  test('the path uses the index in the config list, not in the graph', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { input: [{ name: 'x' }, { name: 'mask', dims: [1, 2] }] }, BATCHABLE, DEFAULTS),
      "input[1].dims: [1,2] does not fit the graph's 'mask' dims [-1] (batch dimension excluded)",
    );
  });

  test('a data_type mismatch is refused', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { input: [{ name: 'x', data_type: 'INT32' }] }, BATCHABLE, DEFAULTS),
      "input[0].data_type: config says INT32 but the graph's 'x' is FP32",
    );
  });

  test('an unknown config input is refused, listing the graph inputs', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { input: [{ name: 'x' }, { name: 'image' }] }, BATCHABLE, DEFAULTS),
      "input[1].name: 'image' is not an input of the graph (graph inputs: x, mask)",
    );
  });

  test('an unknown config output is refused, listing the graph outputs', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { output: [{ name: 'logits' }] }, BATCHABLE, DEFAULTS),
      "output[0].name: 'logits' is not an output of the graph (graph outputs: y)",
    );
  });

  test('a graph type with no OIP datatype is refused', () => {
    const signature: EngineSignature = { inputs: [t('x', 'bfloat16', [2])], outputs: [t('y', 'float32', [2])] };
    assertConfigInvalid(
      () => autocompleteConfig('m', {}, signature, DEFAULTS),
      "input 'x': graph element type 'bfloat16' has no Open Inference Protocol datatype",
    );
  });

  test('every problem is reported at once, joined by "; "', () => {
    assertConfigInvalid(
      () =>
        autocompleteConfig(
          'm',
          { max_batch_size: 2, input: [{ name: 'x', data_type: 'FP64' }], output: [{ name: 'z' }] },
          FIXED,
          DEFAULTS,
        ),
      [
        "max_batch_size: 2 needs a variable first dimension on every input and output, but 'y' has shape [1,10]",
        "input[0].data_type: config says FP64 but the graph's 'x' is FP32",
        "output[0].name: 'z' is not an output of the graph (graph outputs: y)",
      ].join('; '),
    );
  });

  test('specs follow the graph order whatever the config order', () => {
    const config = autocompleteConfig('m', { input: [{ name: 'mask' }, { name: 'x' }] }, BATCHABLE, DEFAULTS);
    assert.deepEqual(config.inputs.map((s) => s.name), ['x', 'mask']);
  });

  test('every OIP datatype is recognised from its onnxruntime name', () => {
    const pairs: Array<[string, string]> = [
      ['bool', 'BOOL'],
      ['uint8', 'UINT8'],
      ['uint16', 'UINT16'],
      ['uint32', 'UINT32'],
      ['uint64', 'UINT64'],
      ['int8', 'INT8'],
      ['int16', 'INT16'],
      ['int32', 'INT32'],
      ['int64', 'INT64'],
      ['float16', 'FP16'],
      ['float32', 'FP32'],
      ['float64', 'FP64'],
      ['string', 'BYTES'],
    ];
    const signature: EngineSignature = { inputs: pairs.map(([onnx], i) => t(`i${i}`, onnx, [2])), outputs: [t('y', 'float32', [2])] };
    const config = autocompleteConfig('m', {}, signature, DEFAULTS);
    assert.deepEqual(config.inputs.map((s) => s.datatype), pairs.map(([, oip]) => oip));
  });

  test('version_policy, default_model_filename, parameters and instance_group come from the file', () => {
    const file: ModelConfigFile = {
      version_policy: { specific: { versions: [1, 3] } },
      default_model_filename: 'rec.onnx',
      parameters: { threshold: 0.5 },
      instance_group: { count: 3, intra_op_threads: 2 },
    };
    const config = autocompleteConfig('ocr', file, BATCHABLE, DEFAULTS);
    assert.equal(config.name, 'ocr');
    assert.deepEqual(config.versionPolicy, { kind: 'specific', versions: [1, 3] });
    assert.equal(config.defaultModelFilename, 'rec.onnx');
    assert.deepEqual(config.parameters, { threshold: 0.5 });
    assert.equal(config.instanceCount, 3);
    assert.equal(config.intraOpThreads, 2);
  });

  test(
    'the same input listed twice in the config is refused',
    () => {
      assertConfigInvalid(
        () => autocompleteConfig('m', { input: [{ name: 'x', data_type: 'INT64' }, { name: 'x' }] }, BATCHABLE, DEFAULTS),
        /'x'/,
      );
    },
  );
});

describe('defaultInstanceLayout', () => {
  const cases: Array<[string, [number, number?, number?], { instanceCount: number; intraOpThreads: number }]> = [
    ['cores 2 → 2 instances × 1 thread', [2], { instanceCount: 2, intraOpThreads: 1 }],
    ['cores 16 → 2 × 8', [16], { instanceCount: 2, intraOpThreads: 8 }],
    ['cores 1 → 1 × 1', [1], { instanceCount: 1, intraOpThreads: 1 }],
    ['cores 3 → 2 × 1', [3], { instanceCount: 2, intraOpThreads: 1 }],
    ['cores 0 (unknown) → 1 × 1', [0], { instanceCount: 1, intraOpThreads: 1 }],
    ['explicit count 4 on 16 cores → 4 × 4', [16, 4], { instanceCount: 4, intraOpThreads: 4 }],
    ['explicit count 4 on 2 cores → 4 × 1 (never 0 threads)', [2, 4], { instanceCount: 4, intraOpThreads: 1 }],
    ['explicit threads 3 on 16 cores → 2 × 3', [16, undefined, 3], { instanceCount: 2, intraOpThreads: 3 }],
    ['explicit count and threads are kept as given', [2, 3, 5], { instanceCount: 3, intraOpThreads: 5 }],
  ];
  for (const [label, [cores, count, threads], expected] of cases) {
    test(label, () => assert.deepEqual(defaultInstanceLayout(cores, count, threads), expected));
  }

  test('autocompleteConfig uses the layout for the given cores', () => {
    const config = autocompleteConfig('m', {}, BATCHABLE, { defaultMaxBatchSize: 8, cores: 16, defaultMaxQueueWaitUs: 'auto' });
    assert.equal(config.instanceCount, 2);
    assert.equal(config.intraOpThreads, 8);
  });
});

describe('autocompleteConfig: dynamic_batching', () => {
  test('on by default for batchable graphs, off for graphs without a batch dimension', () => {
    assert.equal(autocompleteConfig('m', {}, BATCHABLE, DEFAULTS).scheduling.dynamicBatching, true);
    assert.equal(autocompleteConfig('m', {}, FIXED, DEFAULTS).scheduling.dynamicBatching, false);
    assert.equal(autocompleteConfig('m', { dynamic_batching: { enable: false } }, BATCHABLE, DEFAULTS).scheduling.dynamicBatching, false);
  });

  test('Triton knobs resolve with sorted preferred sizes and a middle default priority', () => {
    const s = autocompleteConfig(
      'm',
      { dynamic_batching: { preferred_batch_size: [8, 4], max_queue_delay_microseconds: 100, max_queue_size: 7, default_timeout_microseconds: 5, priority_levels: 4 } },
      BATCHABLE,
      DEFAULTS,
    ).scheduling;
    assert.deepEqual(s, {
      dynamicBatching: true,
      preferredBatchSizes: [4, 8],
      maxQueueDelayUs: 100,
      maxQueueSize: 7,
      defaultTimeoutUs: 5,
      maxQueueWaitUs: 'auto',
      priorityLevels: 4,
      defaultPriorityLevel: 2,
    });
  });

  test('max_queue_wait_microseconds: the model wins over the server default, which applies when it is silent', () => {
    const server = { ...DEFAULTS, defaultMaxQueueWaitUs: 25_000 };
    assert.equal(autocompleteConfig('m', {}, BATCHABLE, server).scheduling.maxQueueWaitUs, 25_000);
    assert.equal(autocompleteConfig('m', { dynamic_batching: { max_queue_wait_microseconds: 0 } }, BATCHABLE, server).scheduling.maxQueueWaitUs, 0);
    assert.equal(autocompleteConfig('m', { dynamic_batching: { max_queue_wait_microseconds: 'auto' } }, BATCHABLE, server).scheduling.maxQueueWaitUs, 'auto');
  });

  test('contradictions name the field', () => {
    assertConfigInvalid(
      () => autocompleteConfig('m', { dynamic_batching: { preferred_batch_size: [4, 64] } }, BATCHABLE, DEFAULTS),
      /dynamic_batching\.preferred_batch_size\.1: 64 exceeds max_batch_size 32/,
    );
    assertConfigInvalid(
      () => autocompleteConfig('m', { dynamic_batching: { priority_levels: 2, default_priority_level: 3 } }, BATCHABLE, DEFAULTS),
      /dynamic_batching\.default_priority_level: 3 must be within 1\.\.priority_levels \(2\)/,
    );
    assertConfigInvalid(
      () => autocompleteConfig('m', { dynamic_batching: { enable: true } }, FIXED, DEFAULTS),
      /dynamic_batching\.enable: batching needs max_batch_size > 0/,
    );
  });
});

