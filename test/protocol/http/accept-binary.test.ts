import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { acceptsBinaryOutput } from '../../../src/protocol/http/binary-tensors.js';
import { lookupRepository, type LookupRepository } from '../../helpers/rollout-models.js';
import { startProtocolServer, type ProtocolServer } from '../../helpers/protocol-server.js';

test('acceptsBinaryOutput: octet-stream at least as wanted as JSON; wildcards and no header keep JSON', () => {
  assert.equal(acceptsBinaryOutput(undefined), false);
  assert.equal(acceptsBinaryOutput('*/*'), false);
  assert.equal(acceptsBinaryOutput('application/json'), false);
  assert.equal(acceptsBinaryOutput('application/octet-stream'), true);
  assert.equal(acceptsBinaryOutput('application/octet-stream, application/json;q=0.5'), true);
  assert.equal(acceptsBinaryOutput('application/json, application/octet-stream;q=0.9'), false);
  assert.equal(acceptsBinaryOutput('application/octet-stream;q=0'), false);
  assert.equal(acceptsBinaryOutput('Application/Octet-Stream ; q=1'), true);
});

describe('binary outputs steered by Accept', () => {
  let repo: LookupRepository;
  let server: ProtocolServer;
  before(async () => {
    repo = await lookupRepository({ 1: 100 }, 'response_cache: { enable: true }\n');
    server = await startProtocolServer({ models: repo.dir });
  });
  after(async () => {
    await server.close();
    await repo.remove();
  });
  const body = `{"inputs":[{"name":"idx","datatype":"INT64","shape":[2],"data":[4,7]}]}`;
  const send = async (headers: Record<string, string>, text = body) => {
    const r = await fetch(`${server.url}/v2/models/lookup/infer`, { method: 'POST', body: text, headers: { 'content-type': 'application/json', ...headers } });
    return { status: r.status, type: r.headers.get('content-type'), length: r.headers.get('inference-header-content-length'), bytes: Buffer.from(await r.arrayBuffer()), timing: r.headers.get('server-timing') ?? '' };
  };

  test('Accept: application/octet-stream gets binary tensor data; the parameter set to false keeps JSON', async () => {
    for (let i = 0; i < 2; i++) {
      // Twice: the second is answered from the raw-bytes cache and must keep the binary form.
      const binary = await send({ accept: 'application/octet-stream' });
      assert.equal(binary.status, 200);
      assert.equal(binary.type, 'application/octet-stream');
      const length = Number(binary.length);
      const header = JSON.parse(binary.bytes.subarray(0, length).toString()) as { outputs: Array<{ parameters: { binary_data_size: number } }> };
      assert.equal(header.outputs[0]!.parameters.binary_data_size, 8);
      const values = new Float32Array(binary.bytes.buffer.slice(binary.bytes.byteOffset + length, binary.bytes.byteOffset + length + 8));
      assert.deepEqual(Array.from(values), [2, 3.5]);
    }
    const json = await send({});
    assert.equal(json.type, 'application/json; charset=utf-8', 'the same body without Accept is another answer');
    assert.deepEqual((JSON.parse(json.bytes.toString()) as { outputs: Array<{ data: number[] }> }).outputs[0]!.data, [2, 3.5]);
    const refused = await send(
      { accept: 'application/octet-stream' },
      `{"inputs":[{"name":"idx","datatype":"INT64","shape":[2],"data":[4,7]}],"parameters":{"binary_data_output":false}}`,
    );
    assert.equal(refused.type, 'application/json; charset=utf-8');
  });
});
