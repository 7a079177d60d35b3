import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { get, post, startTestServer, type TestServer } from '../../helpers/test-server.js';
import { EXAMPLES, TEST_MODELS, ROOT } from '../../helpers/paths.js';

const FIXTURES = `${ROOT}test/fixtures/handlers`;

async function send(url: string, body: FormData | Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', body, headers });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

function form(fields: Record<string, string>, files: Record<string, { bytes: Buffer; type: string; name: string }> = {}): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  for (const [name, f] of Object.entries(files)) data.append(name, new Blob([f.bytes], { type: f.type }), f.name);
  return data;
}

const greyPng = (width: number, height: number, grey: number) =>
  sharp(Buffer.alloc(width * height * 3, grey), { raw: { width, height, channels: 3 } }).png().toBuffer();

describe('prediction routes (/api/models)', () => {
  let server: TestServer;
  let predict: (model: string) => string;
  before(async () => {
    server = await startTestServer({
      models: [`${FIXTURES}/toolbox`, `${FIXTURES}/setup_fails`, `${TEST_MODELS}/simple`, `${EXAMPLES}/digits`],
    });
    predict = (model) => `${server.url}/api/models/${model}/predict`;
  });
  after(() => server.close());

  test('GET /api/models lists every model with its kind, state and description, and what a handler uses', async () => {
    const { status, body } = await get(`${server.url}/api/models`);
    assert.equal(status, 200);
    const byName = Object.fromEntries((body as Array<{ name: string }>).map((m) => [m.name, m]));
    assert.deepEqual(byName.toolbox, { name: 'toolbox', kind: 'pipeline', state: 'READY', handler: { state: 'READY' }, description: 'test handler', uses: ['simple'] });
    assert.deepEqual(byName.setup_fails, { name: 'setup_fails', kind: 'pipeline', state: 'UNAVAILABLE', handler: { state: 'UNAVAILABLE' } });
    assert.deepEqual(byName.simple, { name: 'simple', kind: 'graph', state: 'READY', handler: null, part_of: ['toolbox'] });
    assert.deepEqual(byName.digits, { name: 'digits', kind: 'graph', state: 'READY', handler: { state: 'READY' }, description: 'Reads one handwritten or printed digit (0-9) from a picture or a drawing.' });
  });

  test('GET /api/models/{m} describes the handler with its JSON Schemas', async () => {
    const { status, body } = await get(`${server.url}/api/models/toolbox`);
    assert.equal(status, 200);
    assert.equal(body.kind, 'pipeline');
    assert.equal(body.handler.file, 'handler.ts');
    assert.equal(body.handler.mode, 'predict');
    assert.equal(body.handler.description, 'test handler');
    assert.deepEqual(body.handler.predict, { method: 'POST', path: '/api/models/toolbox/predict', content_types: ['application/json', 'multipart/form-data'] });
    assert.deepEqual(body.handler.file_fields, ['upload', 'picture']);
    assert.deepEqual(body.handler.input_schema.properties.repeat, { default: 1, type: 'integer', minimum: 1, maximum: 5 });
    assert.equal(body.handler.input_schema.properties.picture.format, 'binary');
    assert.deepEqual(body.handler.input_schema.required, ['action']);
    assert.equal(body.handler.output_schema.type, 'object');
    assert.equal(body.handler.limits.timeout_ms, 2000);
    assert.equal(body.handler.limits.max_file_bytes, 65536);

    const digits = await get(`${server.url}/api/models/digits`);
    assert.equal(digits.body.handler.mode, 'graph');
    assert.deepEqual(digits.body.handler.predict.content_types, ['application/json', 'multipart/form-data', 'image/*', 'application/octet-stream']);
    assert.deepEqual(digits.body.versions, [{ version: '1', state: 'READY', reason: '' }]);

    const broken = await get(`${server.url}/api/models/setup_fails`);
    assert.equal(broken.body.handler.state, 'UNAVAILABLE');
    assert.match(broken.body.handler.reason, /^handler: setup\(\) failed: the weights file is missing$/);

    const unknown = await get(`${server.url}/api/models/nope`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'MODEL_NOT_FOUND');
  });

  test('a JSON request runs the handler', async () => {
    const { status, headers, body } = await post(predict('toolbox'), { action: 'echo', text: 'ab', repeat: 2 });
    assert.equal(status, 200);
    assert.deepEqual(body, { text: 'hi abab' });
    assert.match(headers.get('server-timing') ?? '', /^handler;dur=\d+\.\d+$/);
  });

  test('input the schema refuses answers 400 naming each field', async () => {
    const { status, body } = await post(predict('toolbox'), { action: 'echo', text: '', repeat: 9, upload: 12 });
    assert.equal(status, 400);
    assert.equal(body.code, 'INVALID_INPUT');
    assert.match(body.error, /^invalid input: /);
    assert.match(body.error, /text: Too small: expected string to have >=1 characters/);
    assert.match(body.error, /repeat: Too big: expected number to be <=5/);
    assert.match(body.error, /upload: expected a file/);
  });

  test('a body that is not JSON answers 400', async () => {
    const { status, body } = await post(predict('toolbox'), '{"action":');
    assert.equal(status, 400);
    assert.equal(body.code, 'MALFORMED_REQUEST');
    assert.match(body.error, /request body is not valid JSON/);
  });

  test('multipart: text parts read by the schema, files as uploads', async () => {
    const echo = await send(predict('toolbox'), form({ action: 'echo', text: '7', repeat: '3' }));
    assert.deepEqual([echo.status, echo.body], [200, { text: 'hi 777' }]);
    const upload = await send(predict('toolbox'), form({ action: 'upload' }, { upload: { bytes: Buffer.alloc(700, 1), type: 'application/pdf', name: 'a.pdf' } }));
    assert.deepEqual([upload.status, upload.body], [200, { bytes: 700, filename: 'a.pdf' }]);
    const png = await greyPng(40, 20, 100);
    const picture = await send(predict('toolbox'), form({ action: 'image' }, { picture: { bytes: png, type: 'image/png', name: 'p.png' } }));
    assert.deepEqual([picture.status, picture.body], [200, { width: 40, height: 20, meanGrey: 100 }]);
  });

  test('size limits answer 413 naming the field: the schema’s, the handler config’s and the image’s pixels', async () => {
    const overSchema = await send(predict('toolbox'), form({ action: 'upload' }, { upload: { bytes: Buffer.alloc(2000), type: 'text/plain', name: 'a.txt' } }));
    assert.equal(overSchema.status, 413);
    assert.equal(overSchema.body.code, 'PAYLOAD_TOO_LARGE');
    assert.match(overSchema.body.error as string, /upload: file is 2\.0 KiB, more than the limit of 1000 bytes/);

    const overConfig = await send(predict('toolbox'), form({ action: 'upload' }, { upload: { bytes: Buffer.alloc(70_000), type: 'text/plain', name: 'a.txt' } }));
    assert.equal(overConfig.status, 413);
    assert.match(overConfig.body.error as string, /file part 'upload' is larger than 65536 bytes \(handler\.max_file_bytes\)/);

    const png = await greyPng(200, 200, 0);
    const tooManyPixels = await send(predict('toolbox'), form({ action: 'image' }, { picture: { bytes: png, type: 'image/png', name: 'p.png' } }));
    assert.equal(tooManyPixels.status, 413);
    assert.match(tooManyPixels.body.error as string, /picture: image is 200×200 \(40,000 pixels\), more than the limit of 10,000 pixels/);
  });

  test('a file that is not an accepted image answers 400 naming the field', async () => {
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } }).gif().toBuffer();
    const { status, body } = await send(predict('toolbox'), form({ action: 'image' }, { picture: { bytes: gif, type: 'image/gif', name: 'p.gif' } }));
    assert.equal(status, 400);
    assert.match(body.error as string, /picture: unsupported image format 'gif': expected PNG, JPEG or WebP/);
  });

  test('a raw upload needs a handler with exactly one file field', async () => {
    const png = await greyPng(8, 8, 0);
    const toolbox = await send(predict('toolbox'), png, { 'content-type': 'image/png' });
    assert.equal(toolbox.status, 400);
    assert.match(toolbox.body.error as string, /takes 2 files \(upload, picture\); send them as multipart\/form-data parts/);
  });

  test('a handler that throws answers 500 with its message, and the server keeps serving', async () => {
    const thrown = await post(predict('toolbox'), { action: 'throw', text: 'this' });
    assert.equal(thrown.status, 500);
    assert.deepEqual(thrown.body, { error: "handler 'toolbox' failed: the handler refused 'this'", code: 'HANDLER_FAILED' });
    const bad = await post(predict('toolbox'), { action: 'bad-output' });
    assert.equal(bad.status, 500);
    assert.match(bad.body.error, /returned output that does not match its output schema: text:/);
    const again = await post(predict('toolbox'), { action: 'echo', text: 'ok' });
    assert.deepEqual([again.status, again.body], [200, { text: 'hi ok' }]);
    assert.equal((await get(`${server.url}/v2/health/ready`)).status, 200);
  });

  test('a handler that hangs is cut off by its timeout (504)', async () => {
    const { status, body } = await post(predict('toolbox'), { action: 'hang' });
    assert.equal(status, 504);
    assert.deepEqual(body, { error: "handler of model 'toolbox' did not answer within 2000 ms (handler.timeout_ms)", code: 'DEADLINE_EXCEEDED' });
    const again = await post(predict('toolbox'), { action: 'echo', text: 'ok' });
    assert.equal(again.status, 200);
  });

  test('ctx.infer reaches other models through the router (and shows in their statistics)', async () => {
    const count = async () => ((await get(`${server.url}/v2/models/simple/stats`)).body.model_stats[0].inference_count as number);
    const before = await count();
    const numbers = Array.from({ length: 16 }, (_, i) => i);
    const { status, body } = await post(predict('toolbox'), { action: 'add', numbers, repeat: 5 });
    assert.equal(status, 200);
    assert.deepEqual(body.sums, numbers.map((n) => n + 5));
    assert.equal(await count(), before + 1);
    const refused = await post(predict('toolbox'), { action: 'bad-call' });
    assert.equal(refused.status, 500);
    assert.match(refused.body.error, /a model call was refused: model 'simple': /);
  });

  test('errors name what to call instead', async () => {
    const unknown = await post(predict('nope'), {});
    assert.deepEqual([unknown.status, unknown.body.code], [404, 'MODEL_NOT_FOUND']);
    const graphOnly = await post(predict('simple'), {});
    assert.equal(graphOnly.status, 404);
    assert.deepEqual(graphOnly.body, {
      error: "model 'simple' has no handler (a handler.ts in its folder); call its graph with POST /v2/models/simple/infer",
      code: 'HANDLER_NOT_FOUND',
    });
    const broken = await post(predict('setup_fails'), {});
    assert.equal(broken.status, 503);
    assert.match(broken.body.error, /handler of model 'setup_fails' is UNAVAILABLE: handler: setup\(\) failed/);
    const oip = await post(`${server.url}/v2/models/toolbox/infer`, { inputs: [] });
    assert.equal(oip.status, 404);
    assert.match(oip.body.error, /pipeline .* call its handler: POST \/api\/models\/toolbox\/predict/);
  });

  test('the repository index shows pipelines with their state and reason', async () => {
    const { body } = await post(`${server.url}/v2/repository/index`, {});
    const rows = body as Array<{ name: string; version?: string; state: string; reason: string }>;
    assert.deepEqual(rows.find((r) => r.name === 'toolbox'), { name: 'toolbox', state: 'READY', reason: '' });
    const broken = rows.find((r) => r.name === 'setup_fails')!;
    assert.equal(broken.state, 'UNAVAILABLE');
    assert.match(broken.reason, /setup\(\) failed: the weights file is missing/);
  });
});
