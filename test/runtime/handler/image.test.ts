import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { z } from 'zod';
import { ServingError } from '../../../src/errors/serving-error.js';
import { TOO_LARGE_PARAM } from '../../../src/runtime/handler/file-schema.js';
import { decodeImage, image, imageToTensor, resizeImage, type DecodedImage } from '../../../src/runtime/handler/image.js';

/** A 4×2 image: left half red, right half blue. */
const halves = () =>
  sharp(Buffer.from([255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255]), { raw: { width: 4, height: 2, channels: 3 } });

const servingError = (code: string, pattern: RegExp) => (e: unknown) => e instanceof ServingError && e.code === code && pattern.test(e.message);

describe('decodeImage', () => {
  for (const format of ['png', 'jpeg', 'webp'] as const) {
    test(`decodes ${format} to RGB and to grey`, async () => {
      const encoded = await halves().toFormat(format, { quality: 100, lossless: true }).toBuffer();
      const rgb = await decodeImage(encoded);
      assert.deepEqual([rgb.width, rgb.height, rgb.channels, rgb.format, rgb.data.length], [4, 2, 3, format, 24]);
      // JPEG is lossy even at quality 100, so the colours are compared loosely.
      assert.ok(rgb.data[0]! > 200 && rgb.data[2]! < 60, `left pixel is red: ${rgb.data.subarray(0, 3).join(',')}`);
      assert.ok(rgb.data[9]! < 60 && rgb.data[11]! > 200, `right pixel is blue: ${rgb.data.subarray(9, 12).join(',')}`);
      const grey = await decodeImage(encoded, { channels: 1 });
      assert.deepEqual([grey.channels, grey.data.length], [1, 8]);
    });
  }

  test('flattens transparency onto white', async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const grey = await decodeImage(png, { channels: 1 });
    assert.deepEqual([...grey.data], [255, 255, 255, 255]);
  });

  test('applies the EXIF orientation', async () => {
    const jpeg = await sharp({ create: { width: 40, height: 10, channels: 3, background: 'white' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const decoded = await decodeImage(jpeg);
    assert.deepEqual([decoded.width, decoded.height], [10, 40]);
  });

  test('refuses what is not an accepted image with 400', async () => {
    await assert.rejects(decodeImage(Buffer.from('hello, world')), servingError('INVALID_INPUT', /not an image: expected PNG, JPEG or WebP/));
    const gif = await halves().gif().toBuffer();
    await assert.rejects(decodeImage(gif), servingError('INVALID_INPUT', /unsupported image format 'gif': expected PNG, JPEG or WebP/));
    const png = await halves().png().toBuffer();
    await assert.rejects(decodeImage(png, { formats: ['jpeg'] }), servingError('INVALID_INPUT', /expected JPEG$/));
    const big = await sharp({ create: { width: 400, height: 300, channels: 3, background: 'red' } }).png().toBuffer();
    await assert.rejects(decodeImage(big.subarray(0, 200)), servingError('INVALID_INPUT', /PNG image could not be decoded \(truncated or corrupt\)/));
  });

  test('refuses an image over the pixel limit from its header, before decoding (413)', async () => {
    // 100 megapixels of one colour compress to a few hundred kilobytes: a decompression bomb.
    const bomb = await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: 'black' } }).png({ compressionLevel: 9 }).toBuffer();
    assert.ok(bomb.length < 2_000_000);
    await assert.rejects(decodeImage(bomb), servingError('PAYLOAD_TOO_LARGE', /10000×10000 \(100\.0 megapixels\), more than the limit of 40\.0 megapixels/));
    await assert.rejects(decodeImage(await halves().png().toBuffer(), { maxPixels: 7 }), servingError('PAYLOAD_TOO_LARGE', /4×2 \(8 pixels\), more than the limit of 7 pixels/));
  });
});

describe('resizeImage', () => {
  const stripes: DecodedImage = { width: 4, height: 1, channels: 1, data: new Uint8Array([0, 0, 255, 255]), format: 'raw' };

  test('keeps one channel one channel, and three three', async () => {
    const grey = await resizeImage(stripes, { width: 8, height: 2, kernel: 'nearest' });
    assert.deepEqual([grey.width, grey.height, grey.channels, grey.data.length], [8, 2, 1, 16]);
    assert.deepEqual([...grey.data.subarray(0, 8)], [0, 0, 0, 0, 255, 255, 255, 255]);
    const rgb = await resizeImage(await decodeImage(await halves().png().toBuffer()), { width: 2, height: 1 });
    assert.deepEqual([rgb.channels, rgb.data.length], [3, 6]);
  });

  test('fit inside keeps the aspect ratio', async () => {
    const out = await resizeImage(stripes, { width: 2, height: 2, fit: 'inside' });
    assert.deepEqual([out.width, out.height], [2, 1]);
  });

  test('refuses an empty target', async () => {
    await assert.rejects(resizeImage(stripes, { width: 0, height: 2 }), /at least 1/);
  });
});

describe('imageToTensor', () => {
  const rgb: DecodedImage = { width: 2, height: 1, channels: 3, data: new Uint8Array([255, 0, 51, 0, 255, 102]), format: 'raw' };

  test('CHW, scaled to 0..1 by default', () => {
    assert.deepEqual([...imageToTensor(rgb)].map((v) => +v.toFixed(3)), [1, 0, 0, 1, 0.2, 0.4]);
  });

  test('BGR order, mean and std per output channel', () => {
    const t = imageToTensor(rgb, { channelOrder: 'BGR', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    assert.deepEqual([...t].map((v) => +v.toFixed(3)), [-0.6, -0.2, -1, 1, 1, -1]);
  });

  test('HWC layout', () => {
    assert.deepEqual([...imageToTensor(rgb, { layout: 'HWC', scale: 1 })], [255, 0, 51, 0, 255, 102]);
  });

  test('pads on the right to the requested width', () => {
    const t = imageToTensor({ ...rgb, channels: 1, data: new Uint8Array([255, 0]) }, { width: 4, padValue: -1 });
    assert.deepEqual([...t], [1, 0, -1, -1]);
    assert.throws(() => imageToTensor(rgb, { width: 1 }), /narrower than the image/);
  });
});

describe('image()', () => {
  const schema = z.object({ photo: image({ channels: 1, maxPixels: 4, maxBytes: 100_000 }) });

  test('decodes an upload or base64 into pixels', async () => {
    const png = await halves().resize(2, 2).png().toBuffer();
    const parsed = await schema.parseAsync({ photo: png.toString('base64') });
    assert.deepEqual([parsed.photo.width, parsed.photo.height, parsed.photo.channels], [2, 2, 1]);
    const fromUpload = await schema.parseAsync({ photo: { data: new Uint8Array(png), filename: 'p.png' } });
    assert.equal(fromUpload.photo.data.length, 4);
  });

  test('reports the field: 400 for a bad image, 413 (marked) for too many pixels', async () => {
    const bad = await schema.safeParseAsync({ photo: Buffer.from('nope').toString('base64') });
    assert.deepEqual(bad.error?.issues.map((i) => [i.path.join('.'), i.message]), [['photo', 'not an image: expected PNG, JPEG or WebP']]);
    const large = await schema.safeParseAsync({ photo: (await halves().png().toBuffer()).toString('base64') });
    const issue = large.error!.issues[0] as { path: PropertyKey[]; message: string; params?: Record<string, unknown> };
    assert.deepEqual(issue.path, ['photo']);
    assert.match(issue.message, /4×2 .* more than the limit/);
    assert.equal(issue.params?.[TOO_LARGE_PARAM], true);
  });
});
