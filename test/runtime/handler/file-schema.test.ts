import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { file, fileFromString, TOO_LARGE_PARAM } from '../../../src/runtime/handler/file-schema.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s));

describe('file()', () => {
  const schema = z.object({ doc: file({ maxBytes: 8 }) });

  test('takes base64, URL-safe base64 and data: URLs from JSON', async () => {
    assert.deepEqual((await schema.parseAsync({ doc: Buffer.from('hello').toString('base64') })).doc, { data: bytes('hello') });
    assert.deepEqual((await schema.parseAsync({ doc: Buffer.from([251, 255]).toString('base64url') })).doc, { data: new Uint8Array([251, 255]) });
    assert.deepEqual((await schema.parseAsync({ doc: 'data:text/plain;base64,aGk=' })).doc, { data: bytes('hi'), mediaType: 'text/plain' });
    assert.deepEqual((await schema.parseAsync({ doc: 'aGVs\nbG8=' })).doc, { data: bytes('hello') }, 'line breaks in base64 are ignored');
  });

  test('passes uploaded files through', async () => {
    const upload = { data: bytes('abc'), filename: 'a.txt', mediaType: 'text/plain' };
    assert.deepEqual((await schema.parseAsync({ doc: upload })).doc, upload);
  });

  test('names the field and the problem', async () => {
    const problems = async (value: unknown) => (await schema.safeParseAsync({ doc: value })).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.deepEqual(await problems('not base64!'), ['doc: expected a file: base64 text, a data: URL, or a multipart file part']);
    assert.deepEqual(await problems(''), ['doc: the file is empty']);
    assert.deepEqual(await problems(12), ['doc: expected a file: base64 text, a data: URL, or a multipart file part']);
    assert.deepEqual(await problems('data:text/plain,hello'), ['doc: a data: URL must be base64-encoded (data:<type>;base64,...)']);
    assert.deepEqual(await problems(Buffer.from('123456789').toString('base64')), ['doc: file is 9 bytes, more than the limit of 8 bytes']);
  });

  test('only the size limit is marked as too large (413)', async () => {
    const big = await schema.safeParseAsync({ doc: Buffer.from('123456789').toString('base64') });
    assert.equal((big.error!.issues[0] as { params?: Record<string, unknown> }).params?.[TOO_LARGE_PARAM], true);
    const bad = await schema.safeParseAsync({ doc: '!!' });
    assert.equal((bad.error!.issues[0] as { params?: Record<string, unknown> }).params?.[TOO_LARGE_PARAM], undefined);
  });

  test('fileFromString keeps the declared media type of a data: URL', () => {
    assert.deepEqual(fileFromString('data:image/png;charset=x;base64,AAE='), { data: new Uint8Array([0, 1]), mediaType: 'image/png' });
  });
});
