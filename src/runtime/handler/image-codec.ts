// Node's side of the image seam in image.ts: sharp (libvips). A browser bundle replaces this module
// with edge/web/canvas-image-codec.ts, which reproduces these pixels (see vips-resize.ts).
import sharp from 'sharp';
import type { ImageCodec } from './image.js';

const asBytes = (data: Buffer): Uint8Array => new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/** sharp as the platform's image library. */
export const imageCodec: ImageCodec = {
  async probe(bytes) {
    try {
      const metadata = await sharp(bytes).metadata();
      return { format: metadata.format as string, width: metadata.width ?? 0, height: metadata.height ?? 0 };
    } catch {
      return undefined;
    }
  },

  async decode(bytes, channels, maxPixels) {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).rotate().flatten({ background: '#ffffff' });
    pipeline = channels === 1 ? pipeline.greyscale() : pipeline.toColourspace('srgb');
    const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels instead of ${channels}`);
    return { width: info.width, height: info.height, data: asBytes(data) };
  },

  async resize(image, options) {
    const { background } = options;
    const resized = sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } }).resize(options.width, options.height, {
      fit: options.fit,
      kernel: options.kernel,
      background: { r: background, g: background, b: background, alpha: 1 },
    });
    // libvips would hand a one-band image back as sRGB.
    const { data, info } = await (image.channels === 1 ? resized.toColourspace('b-w') : resized.toColourspace('srgb'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, channels: info.channels === 1 ? 1 : 3, data: asBytes(data) };
  },
};
