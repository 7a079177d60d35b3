import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { flattenOnWhite, srgbToGrey } from '../../../src/runtime/handler/vips-colour.js';
import { resizePixels, type Pixels, type ResizeKernel } from '../../../src/runtime/handler/vips-resize.js';

// The browser bundle's image steps are ports of what sharp (libvips) does, so a handler's pixels
// agree wherever it runs. These compare the ports with sharp itself, pixel for pixel.

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

async function sharpResize(image: Pixels, width: number, height: number, fit: 'fill' | 'inside' | 'contain', kernel: ResizeKernel): Promise<Pixels> {
  const pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels as 1 | 3 } }).resize(width, height, {
    fit,
    kernel,
    background: { r: 9, g: 9, b: 9, alpha: 1 },
  });
  const { data, info } = await (image.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb')).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data) };
}

/** A random picture: noise over a gradient, so both smooth areas and edges are resampled. */
function picture(next: () => number, width: number, height: number, channels: number): Pixels {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) {
    const x = Math.floor(i / channels) % width;
    data[i] = Math.min(255, Math.floor((x / width) * 128 + next() * 128));
  }
  return { width, height, channels, data };
}

function firstDifference(a: Pixels, b: Pixels): string | undefined {
  if (a.width !== b.width || a.height !== b.height) return `size ${b.width}×${b.height}, sharp ${a.width}×${a.height}`;
  for (let i = 0; i < a.data.length; i++) {
    if (a.data[i] !== b.data[i]) return `pixel ${Math.floor(i / a.channels)} channel ${i % a.channels}: ${b.data[i]}, sharp ${a.data[i]}`;
  }
  return undefined;
}

describe('resizePixels matches sharp', () => {
  for (const kernel of ['linear', 'cubic', 'lanczos3'] as const) {
    test(`${kernel}: 120 random pictures and sizes, shrinking and enlarging, every fit`, async () => {
      const next = random(kernel.length * 7919);
      for (let i = 0; i < 40; i++) {
        const width = 1 + Math.floor(next() * 150);
        const height = 1 + Math.floor(next() * 150);
        const image = picture(next, width, height, next() < 0.5 ? 1 : 3);
        // Half the targets enlarge (up to 3×), half shrink, and factors above 2 exercise the box pre-shrink.
        const to = (n: number) => 1 + Math.floor(next() * (next() < 0.5 ? n * 3 : n));
        const [targetWidth, targetHeight] = [to(width), to(height)];
        for (const fit of ['fill', 'inside', 'contain'] as const) {
          const expected = await sharpResize(image, targetWidth, targetHeight, fit, kernel);
          const actual = resizePixels(image, { width: targetWidth, height: targetHeight, fit, kernel, background: 9 });
          const difference = firstDifference(expected, actual);
          assert.equal(difference, undefined, `${kernel} ${fit} ${width}×${height}×${image.channels} → ${targetWidth}×${targetHeight}: ${difference}`);
        }
      }
    });
  }

  test('nearest: the same sizes, and the same pixels but where a position falls exactly between two', async () => {
    // libvips steps positions down each strip it computes, and which strips it computes depends on
    // the operations after the resize; a position that lands exactly on a pixel boundary can round
    // either way there. The smooth kernels above weigh neighbours, so they agree exactly.
    const next = random(31);
    for (let i = 0; i < 40; i++) {
      const image = picture(next, 1 + Math.floor(next() * 120), 1 + Math.floor(next() * 120), 3);
      const [targetWidth, targetHeight] = [1 + Math.floor(next() * 200), 1 + Math.floor(next() * 200)];
      for (const fit of ['fill', 'inside', 'contain'] as const) {
        const expected = await sharpResize(image, targetWidth, targetHeight, fit, 'nearest');
        const actual = resizePixels(image, { width: targetWidth, height: targetHeight, fit, kernel: 'nearest', background: 9 });
        assert.deepEqual([actual.width, actual.height], [expected.width, expected.height]);
        const same = expected.data.reduce((n, v, k) => n + (v === actual.data[k] ? 1 : 0), 0);
        assert.ok(same >= expected.data.length * 0.95, `${fit} ${image.width}×${image.height} → ${targetWidth}×${targetHeight}: ${same} of ${expected.data.length} values equal`);
      }
    }
  });

  test('the sizes the examples use: a digit into 32 pixels, a page to 960, text lines to height 48', async () => {
    const next = random(5);
    const cases: Array<[number, number, number, number, number]> = [
      [57, 83, 1, 22, 32],
      [3, 5, 1, 19, 32],
      [666, 486, 3, 960, 704],
      [1280, 960, 3, 960, 736],
      [211, 37, 3, 274, 48],
      [18, 61, 3, 14, 48],
    ];
    for (const [width, height, channels, targetWidth, targetHeight] of cases) {
      const image = picture(next, width, height, channels);
      const difference = firstDifference(await sharpResize(image, targetWidth, targetHeight, 'fill', 'linear'), resizePixels(image, { width: targetWidth, height: targetHeight }));
      assert.equal(difference, undefined, `${width}×${height} → ${targetWidth}×${targetHeight}: ${difference}`);
    }
  });
});

describe('colour steps match sharp', () => {
  test('sRGB to grey: every grey level maps to itself, and 60,000 random colours as sharp maps them', async () => {
    const next = random(11);
    const width = 256;
    const height = 240;
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) rgb[i * 3 + c] = i < 256 ? i : Math.floor(next() * 256);
    }
    const expected = await sharp(rgb, { raw: { width, height, channels: 3 } }).greyscale().raw().toBuffer();
    const actual = srgbToGrey({ width, height, channels: 3, data: rgb });
    assert.deepEqual(actual.data, new Uint8Array(expected));
    assert.deepEqual(Array.from(actual.data.subarray(0, 256)), Array.from({ length: 256 }, (_, v) => v));
  });

  test('flattening RGBA and grey+alpha onto white, as sharp decodes a PNG for a handler', async () => {
    const next = random(13);
    for (const channels of [4, 2] as const) {
      const width = 200;
      const height = 100;
      const data = Uint8Array.from({ length: width * height * channels }, () => Math.floor(next() * 256));
      const png = await sharp(data, { raw: { width, height, channels } }).png().toBuffer();
      const decoded = await sharp(png).rotate().flatten({ background: '#ffffff' }).greyscale().raw().toBuffer();
      const flat = flattenOnWhite({ width, height, channels, data });
      const grey = flat.channels === 3 ? srgbToGrey(flat) : flat;
      assert.deepEqual(grey.data, new Uint8Array(decoded), `${channels} channels`);
    }
  });

  test('refuses channel counts it has no meaning for', () => {
    assert.throws(() => srgbToGrey({ width: 1, height: 1, channels: 1, data: new Uint8Array(1) }), /expects 3 channels/);
    assert.throws(() => flattenOnWhite({ width: 1, height: 1, channels: 3, data: new Uint8Array(3) }), /grey or sRGB with alpha/);
  });
});
