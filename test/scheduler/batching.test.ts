import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { EXAMPLES } from '../helpers/paths.js';
import { tempRepository } from '../helpers/temp-repository.js';
import { get, post, startTestServer } from '../helpers/test-server.js';

interface Sample {
  label: number;
  image: number[][][];
}
const samples = JSON.parse(await readFile(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Sample[];

function digitsBody(rows: Sample[], extra: object = {}): object {
  return { inputs: [{ name: 'image', datatype: 'FP32', shape: [rows.length, 1, 8, 8], data: rows.map((s) => s.image) }], ...extra };
}

async function withServer(models: Parameters<typeof tempRepository>[0], run: (url: string) => Promise<void>): Promise<void> {
  const repo = await tempRepository(models);
  const server = await startTestServer({ models: repo.dir });
  try {
    await run(server.url);
  } finally {
    await server.close();
    await repo.remove();
  }
}

/** A long-running request: OCR direction classification over 64 wide crops (~0.5 s here). */
function slowBody(extra: object = {}): string {
  const count = 64 * 3 * 48 * 1024;
  return `{"inputs":[{"name":"x","datatype":"FP32","shape":[64,3,48,1024],"data":[${'0,'.repeat(count - 1)}0]}]${
    Object.keys(extra).length > 0 ? `,${JSON.stringify(extra).slice(1, -1)}` : ''
  }}`;
}

describe('dynamic batching over HTTP', () => {
  test('every request of a concurrent burst gets exactly the answer it gets alone, and batches formed', async () => {
    const config = 'instance_group: { count: 1 }\ndynamic_batching: { max_queue_delay_microseconds: 20000 }\n';
    await withServer({ digits: { config } }, async (url) => {
      // Requests of 1..3 rows, in a fixed pseudo-random mix.
      const requests = Array.from({ length: 40 }, (_, i) => Array.from({ length: 1 + ((i * 7) % 3) }, (_, k) => samples[(i + k) % 10]!));
      const alone: unknown[] = [];
      for (const rows of requests) alone.push((await post(`${url}/v2/models/digits/infer`, digitsBody(rows))).body.outputs);
      const burst = await Promise.all(requests.map((rows) => post(`${url}/v2/models/digits/infer`, digitsBody(rows))));
      burst.forEach((reply, i) => {
        assert.equal(reply.status, 200);
        assert.deepEqual(reply.body.outputs, alone[i], `request ${i} (${requests[i]!.length} rows)`);
      });
      const batched = burst.map((r) => Number(/batch;desc=(\d+)/.exec(r.headers.get('server-timing') ?? '')?.[1]));
      assert.ok(batched.some((rows, i) => rows > requests[i]!.length), `no request shared a batch: ${batched.join(',')}`);
      const stats = (await get(`${url}/v2/models/digits/stats`)).body.model_stats[0];
      const rowsSent = requests.reduce((s, r) => s + r.length, 0);
      assert.equal(stats.inference_count, 2 * rowsSent);
      assert.ok(stats.execution_count < 2 * requests.length, `${stats.execution_count} executions for ${2 * requests.length} requests`);
      assert.ok(stats.batch_stats.every((b: { batch_size: number }) => b.batch_size <= 64));
      assert.equal(stats.inference_stats.success.count, 2 * requests.length);
    });
  });

  test('requests with different non-batch shapes are never mixed, and each still gets its own answer', async () => {
    const config = 'instance_group: { count: 1 }\ndynamic_batching: { max_queue_delay_microseconds: 20000 }\n';
    await withServer({ identity_fp32: { config } }, async (url) => {
      const requests = Array.from({ length: 24 }, (_, i) => {
        const width = 1 + (i % 3);
        return { inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, width], data: Array.from({ length: width }, (_, k) => i * 10 + k) }] };
      });
      const replies = await Promise.all(requests.map((body) => post(`${url}/v2/models/identity_fp32/infer`, body)));
      replies.forEach((reply, i) => {
        assert.equal(reply.status, 200);
        assert.deepEqual(reply.body.outputs[0].data, requests[i]!.inputs[0]!.data);
        assert.deepEqual(reply.body.outputs[0].shape, requests[i]!.inputs[0]!.shape);
      });
    });
  });
});

describe('admission and deadlines', () => {
  test('a full queue answers 429 with Retry-After at once; the server keeps serving', async () => {
    const config = 'instance_group: { count: 1 }\ndynamic_batching: { max_queue_size: 1 }\n';
    await withServer({ ocr_cls: { from: 'ocr_cls', config } }, async (url) => {
      const body = slowBody();
      const replies = await Promise.all(Array.from({ length: 4 }, () => fetch(`${url}/v2/models/ocr_cls/infer`, { method: 'POST', body })));
      const statuses = replies.map((r) => r.status).sort();
      assert.ok(statuses.includes(429), `statuses: ${statuses.join(',')}`);
      assert.ok(statuses.includes(200));
      const refused = replies.find((r) => r.status === 429)!;
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.match(((await refused.json()) as { error: string }).error, /max_queue_size 1/);
      await Promise.all(replies.map((r) => r.arrayBuffer().catch(() => undefined)));
      const after = await fetch(`${url}/v2/models/ocr_cls/infer`, { method: 'POST', body });
      assert.equal(after.status, 200);
    });
  });

  test("a request whose 'timeout' passes while queued answers 504 without running", async () => {
    const config = 'instance_group: { count: 1 }\n';
    await withServer({ ocr_cls: { from: 'ocr_cls', config } }, async (url) => {
      const busy = fetch(`${url}/v2/models/ocr_cls/infer`, { method: 'POST', body: slowBody() });
      await new Promise((resolve) => setTimeout(resolve, 150));
      const late = await fetch(`${url}/v2/models/ocr_cls/infer`, { method: 'POST', body: slowBody({ parameters: { timeout: 1000 } }) });
      assert.equal(late.status, 504);
      assert.match(((await late.json()) as { error: string }).error, /past its timeout of 1000 µs; it was not run/);
      assert.equal((await busy).status, 200);
      const stats = (await get(`${url}/v2/models/ocr_cls/stats`)).body.model_stats[0];
      assert.equal(stats.execution_count, 1, 'the expired request never ran');
      assert.equal(stats.inference_stats.fail.count, 1);
    });
  });

  test('bad priority or timeout parameters answer 400 naming the parameter', async () => {
    await withServer({ digits: {} }, async (url) => {
      const priority = await post(`${url}/v2/models/digits/infer`, digitsBody([samples[0]!], { parameters: { priority: 5 } }));
      assert.equal(priority.status, 400);
      assert.match(priority.body.error, /parameter 'priority': 5 is not a priority level of model 'digits'/);
      const timeout = await post(`${url}/v2/models/digits/infer`, digitsBody([samples[0]!], { parameters: { timeout: 'soon' } }));
      assert.equal(timeout.status, 400);
      assert.match(timeout.body.error, /parameter 'timeout' must be a non-negative number/);
    });
  });
});

describe('response cache', () => {
  test('a hit returns identical bytes and shows in stats; another version never answers from it', async () => {
    const config = 'version_policy: { all: {} }\nresponse_cache: { enable: true }\n';
    await withServer({ digits: { versions: [1, 2], config } }, async (url) => {
      const body = JSON.stringify(digitsBody([samples[4]!, samples[9]!]));
      const send = async (path: string) => {
        const r = await fetch(`${url}${path}`, { method: 'POST', body });
        return { text: await r.text(), timing: r.headers.get('server-timing') ?? '' };
      };
      const first = await send('/v2/models/digits/versions/1/infer');
      const second = await send('/v2/models/digits/versions/1/infer');
      assert.equal(second.text, first.text);
      assert.doesNotMatch(first.timing, /cache;desc=hit/);
      assert.match(second.timing, /cache;desc=hit/);
      const v1 = (await get(`${url}/v2/models/digits/versions/1/stats`)).body.model_stats[0];
      assert.equal(v1.inference_stats.cache_hit.count, 1);
      assert.equal(v1.inference_stats.cache_miss.count, 1);
      assert.equal(v1.execution_count, 1);
      assert.equal(v1.inference_count, 4, 'cache hits count as inferences, as in Triton');

      const other = await send('/v2/models/digits/versions/2/infer');
      assert.doesNotMatch(other.timing, /cache;desc=hit/);
      const v2 = (await get(`${url}/v2/models/digits/versions/2/stats`)).body.model_stats[0];
      assert.equal(v2.inference_stats.cache_hit.count, 0);
      assert.equal(v2.execution_count, 1);
      // Different requested outputs or inputs are different keys.
      const changed = JSON.stringify(digitsBody([samples[4]!, samples[8]!]));
      const r = await fetch(`${url}/v2/models/digits/versions/1/infer`, { method: 'POST', body: changed });
      assert.doesNotMatch(r.headers.get('server-timing') ?? '', /cache;desc=hit/);
    });
  });

  test('models that did not opt in are never cached', async () => {
    await withServer({ digits: {} }, async (url) => {
      for (let i = 0; i < 2; i++) await post(`${url}/v2/models/digits/infer`, digitsBody([samples[1]!]));
      const stats = (await get(`${url}/v2/models/digits/stats`)).body.model_stats[0];
      assert.equal(stats.execution_count, 2);
      assert.equal(stats.inference_stats.cache_miss.count, 0);
    });
  });
});

describe('statistics endpoints', () => {
  test('all models, one model and one version, in Triton’s shape', async () => {
    await withServer({ digits: {}, simple: {} }, async (url) => {
      await post(`${url}/v2/models/digits/infer`, digitsBody([samples[2]!]));
      const all = (await get(`${url}/v2/models/stats`)).body.model_stats;
      assert.deepEqual(all.map((s: { name: string }) => s.name).sort(), ['digits', 'simple']);
      const digits = (await get(`${url}/v2/models/digits/stats`)).body.model_stats;
      assert.equal(digits.length, 1);
      const s = digits[0];
      assert.equal(s.version, '1');
      assert.ok(s.last_inference > Date.now() - 60_000);
      for (const key of ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss']) {
        assert.equal(typeof s.inference_stats[key].count, 'number', key);
        assert.equal(typeof s.inference_stats[key].ns, 'number', key);
      }
      assert.equal(s.inference_stats.success.count, 1);
      assert.ok(s.inference_stats.compute_infer.ns > 0);
      assert.deepEqual(s.batch_stats.map((b: { batch_size: number }) => b.batch_size), [1]);
      assert.deepEqual((await get(`${url}/v2/models/digits/versions/1/stats`)).body.model_stats, digits.map((d: object) => ({ ...d, last_inference: s.last_inference })));
      assert.equal((await get(`${url}/v2/models/nope/stats`)).status, 404);
      assert.equal((await get(`${url}/v2/models/digits/versions/5/stats`)).status, 404);
      assert.ok((await get(`${url}/v2`)).body.extensions.includes('statistics'));
    });
  });
});
