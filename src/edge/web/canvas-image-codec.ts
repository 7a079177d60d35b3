// The browser's side of the image seam in runtime/handler/image.ts (the bundle swaps this module in
// for the sharp one): the browser's own decoder (createImageBitmap, OffscreenCanvas) for pixels,
// image-size for the header, and the libvips ports for what sharp does after decoding, so a
// handler's pixels match the server's: exactly for opaque PNG and WebP-lossless pictures (the
// examples, the UI's drawings); JPEG decoders differ by a grey level here and there.
import { imageSize } from 'image-size';
import type { ImageCodec } from '../../runtime/handler/image.js';
import { flattenOnWhite, srgbToGrey } from '../../runtime/handler/vips-colour.js';
import { resizePixels } from '../../runtime/handler/vips-resize.js';

const FORMAT_NAMES: Record<string, string> = { jpg: 'jpeg' };

/** The browser's decoder as the platform's image library. */
export const imageCodec: ImageCodec = {
  async probe(bytes) {
    try {
      // As sharp's metadata: the stored size, before any EXIF orientation.
      const { type, width, height } = imageSize(bytes);
      return type === undefined ? undefined : { format: FORMAT_NAMES[type] ?? type, width, height };
    } catch {
      return undefined;
    }
  },

  async decode(bytes, channels) {
    const bitmap = await createImageBitmap(new Blob([bytes as BlobPart]), {
      imageOrientation: 'from-image',
      premultiplyAlpha: 'none',
      colorSpaceConversion: 'default',
    });
    try {
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d', { willReadFrequently: true });
      if (context === null) throw new Error('no 2D canvas context');
      context.drawImage(bitmap, 0, 0);
      const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
      // A grey picture decodes to equal R, G and B, which srgbToGrey maps back to the same level;
      // an opaque one flattens to itself. So sharp's steps apply to RGBA whatever the file held.
      const flat = flattenOnWhite({ width: bitmap.width, height: bitmap.height, channels: 4, data: new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength) });
      return channels === 1 ? srgbToGrey(flat) : flat;
    } finally {
      bitmap.close();
    }
  },

  async resize(image, options) {
    const resized = resizePixels(image, options);
    return { width: resized.width, height: resized.height, channels: image.channels, data: resized.data };
  },
};
