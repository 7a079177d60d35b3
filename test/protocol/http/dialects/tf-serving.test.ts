import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { EXAMPLES } from '../../../helpers/paths.js';
import { oip, send, startDialectServer } from './dialect-server.js';

const samples = JSON.parse(await readFile(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Array<{ label: number; image: number[][][] }>;

let server: Awaited<ReturnType<typeof startDialectServer>>;
before(async () => {
  server = await startDialectServer({ vertexPredictRoute: '/v1/endpoints/123/deployedModels/456:predict', vertexHealthRoute: '/v1/endpoints/123/deployedModels/456', defaultModel: 'half_plus_two' });
});
after(async () => {
  await server.close();
  await server.removeRepository();
});

async function assertStillServes(): Promise<void> {
  const reply = await send(`${server.url}/v1/models/half_plus_two:predict`, '{"instances": [1.0, 2.0, 5.0]}');
  assert.deepEqual(reply.json, { predictions: [2.5, 3.0, 4.5] });
}

// The TF Serving REST API doc's example rows (tag / signal / sensor).
const DOC_ROWS = {
  instances: [
    { tag: 'foo', signal: [1, 2, 3, 4, 5], sensor: [[1, 2], [3, 4]] },
    { tag: 'bar', signal: [3, 4, 1, 2, 5], sensor: [[4, 5], [6, 8]] },
  ],
};
const DOC_COLUMNS = {
  inputs: { tag: ['foo', 'bar'], signal: [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]], sensor: [[[1, 2], [3, 4]], [[4, 5], [6, 8]]] },
};
const b64 = (s: string) => ({ b64: Buffer.from(s).toString('base64') });

describe('TF Serving REST dialect', () => {
  test("the docs' half_plus_two example: instances [1, 2, 5] → predictions [2.5, 3, 4.5]", async () => {
    const reply = await send(`${server.url}/v1/models/half_plus_two:predict`, '{"instances": [1.0, 2.0, 5.0]}');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json, { predictions: [2.5, 3.0, 4.5] });
    const versioned = await send(`${server.url}/v1/models/half_plus_two/versions/1:predict`, '{"signature_name": "serving_default", "instances": [1.0, 2.0, 5.0]}');
    assert.deepEqual(versioned.json, { predictions: [2.5, 3.0, 4.5] });
  });

  test("the REST API doc's row example: one prediction object per instance, same numbers as OIP, _bytes outputs as b64", async () => {
    const reply = await send(`${server.url}/v1/models/tag_signal_sensor:predict`, JSON.stringify(DOC_ROWS));
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json, { predictions: [{ total: 25, tag_bytes: b64('foo') }, { total: 38, tag_bytes: b64('bar') }] });
    const viaOip = await oip(server.url, 'tag_signal_sensor', [
      { name: 'tag', datatype: 'BYTES', shape: [2], data: ['foo', 'bar'] },
      { name: 'signal', datatype: 'FP32', shape: [2, 5], data: DOC_ROWS.instances.map((i) => i.signal) },
      { name: 'sensor', datatype: 'FP32', shape: [2, 2, 2], data: DOC_ROWS.instances.map((i) => i.sensor) },
    ]);
    assert.deepEqual(reply.json.predictions.map((p: { total: number }) => p.total), viaOip.total);
  });

  test("the REST API doc's columnar example: outputs keyed by name", async () => {
    const reply = await send(`${server.url}/v1/models/tag_signal_sensor:predict`, JSON.stringify(DOC_COLUMNS));
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json, { outputs: { total: [25, 38], tag_bytes: [b64('foo'), b64('bar')] } });
  });

  test('{"b64": …} inputs decode to the bytes they encode', async () => {
    const body = { instances: [{ tag: { b64: 'aW1hZ2UgYnl0ZXM=' }, signal: [0, 0, 0, 0, 1], sensor: [[0, 0], [0, 1]] }] };
    const reply = await send(`${server.url}/v1/models/tag_signal_sensor:predict`, JSON.stringify(body));
    assert.deepEqual(reply.json, { predictions: [{ total: 2, tag_bytes: b64('image bytes') }] });
  });

  test('digits: instances of 1×8×8 images give the OIP probabilities', async () => {
    const images = samples.slice(0, 3).map((s) => s.image);
    const reply = await send(`${server.url}/v1/models/digits:predict`, JSON.stringify({ instances: images }));
    assert.equal(reply.status, 200, reply.text);
    const viaOip = await oip(server.url, 'digits', [{ name: 'image', datatype: 'FP32', shape: [3, 1, 8, 8], data: images }]);
    assert.deepEqual(reply.json.predictions.flat(), viaOip.probabilities);
    reply.json.predictions.forEach((p: number[], i: number) => assert.equal(p.indexOf(Math.max(...p)), samples[i]!.label));
  });

  test('GET /v1/models/{m}: the status form of the docs; /metadata: the signature', async () => {
    const status = await send(`${server.url}/v1/models/half_plus_two`, '', {}, 'GET');
    assert.deepEqual(status.json, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    const version = await send(`${server.url}/v1/models/half_plus_two/versions/1`, '', {}, 'GET');
    assert.equal(version.json.model_version_status[0].version, '1');
    const metadata = await send(`${server.url}/v1/models/tag_signal_sensor/metadata`, '', {}, 'GET');
    const signature = metadata.json.metadata.signature_def.signature_def.serving_default;
    assert.equal(signature.inputs.signal.dtype, 'DT_FLOAT');
    assert.deepEqual(signature.inputs.sensor.tensor_shape.dim.map((d: { size: string }) => d.size), ['-1', '2', '2']);
    assert.equal(signature.outputs.tag_bytes.dtype, 'DT_STRING');
  });

  test('Vertex AI: AIP_PREDICT_ROUTE (with its colon) and AIP_HEALTH_ROUTE go to the default model', async () => {
    const reply = await send(`${server.url}/v1/endpoints/123/deployedModels/456:predict`, '{"instances": [1.0, 2.0, 5.0], "parameters": {}}');
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json, { predictions: [2.5, 3.0, 4.5] });
    const health = await send(`${server.url}/v1/endpoints/123/deployedModels/456`, '', {}, 'GET');
    assert.equal(health.status, 200);
    const other = await send(`${server.url}/v1/endpoints/123/deployedModels/456:predict`, JSON.stringify({ instances: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]] }), { 'x-slipway-model': 'linear10' });
    assert.deepEqual(other.json, { predictions: [[48.625]] });
  });

  describe('bad input: a clear 400 naming the problem, and the server still answers', () => {
    const cases: Array<[string, string, string, RegExp]> = [
      ['ragged instances', 'linear10', JSON.stringify({ instances: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2]] }), /ragged: at depth 2 one list has 2 entries where the first has 10/],
      ['an unknown input name', 'tag_signal_sensor', JSON.stringify({ instances: [{ tag: 'a', nope: 1 }] }), /unknown input 'nope'; model 'tag_signal_sensor' has inputs 'tag', 'signal', 'sensor'/],
      ['an instance missing an input', 'tag_signal_sensor', JSON.stringify({ instances: [DOC_ROWS.instances[0], { tag: 'x' }] }), /instances\[1\] has no 'signal'/],
      ['neither instances nor inputs', 'half_plus_two', '{"rows": [1]}', /neither "instances" \(rows\) nor "inputs" \(columns\)/],
      ['both instances and inputs', 'half_plus_two', '{"instances": [1], "inputs": [1]}', /not both/],
      ['a string for a number', 'half_plus_two', '{"instances": [1, "two"]}', /element 1 is "two", expected a number for FP32/],
      ['values for a several-input model without names', 'tag_signal_sensor', '{"instances": [1, 2]}', /has 3 inputs .* give each of 'instances' as an object naming the inputs/],
      ['the wrong row shape', 'linear10', JSON.stringify({ instances: [[1, 2, 3]] }), /shape \[1,3\] does not match the model's \[-1,10\]/],
      ['not JSON', 'half_plus_two', '{"instances": [1,', /not valid JSON/],
      ['a non-list instances', 'half_plus_two', '{"instances": 5}', /predict request: instances/],
    ];
    for (const [name, model, body, error] of cases) {
      test(name, async () => {
        const reply = await send(`${server.url}/v1/models/${model}:predict`, body);
        assert.equal(reply.status, 400, reply.text);
        assert.match(reply.json.error, error);
        await assertStillServes();
      });
    }

    test('an unknown model is 404; :classify is 501; an unknown verb is 404', async () => {
      assert.equal((await send(`${server.url}/v1/models/nope:predict`, '{"instances": [1]}')).status, 404);
      assert.equal((await send(`${server.url}/v1/models/half_plus_two:classify`, '{"examples": []}')).status, 501);
      assert.equal((await send(`${server.url}/v1/models/half_plus_two:explode`, '{}')).status, 404);
      await assertStillServes();
    });
  });
});
