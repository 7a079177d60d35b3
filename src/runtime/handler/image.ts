import { z } from 'zod';
import { ServingError } from '../../errors/serving-error.js';
import { fileJsonSchema, isUploadedFile, tooLargeIssue, toUploadedFile, type UploadedFile } from './file-schema.js';
// The platform seam: sharp in Node; the browser bundle swaps in edge/web/canvas-image-codec.ts.
import { imageCodec } from './image-codec.js';

/** Pixels row by row, channels interleaved (HWC), 8 bits each. */
export interface DecodedImage {
  width: number;
  height: number;
  /** 1 = grey, 3 = RGB. */
  channels: 1 | 3;
  data: Uint8Array;
  /** The encoded format it came from (`png`, `jpeg`, `webp`), or `raw` for images made in memory. */
  format: string;
}

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** What a platform's image library provides to decodeImage/resizeImage; the checks and messages stay here. */
export interface ImageCodec {
  /** The format (`png`, `jpeg`, `webp`, or another name) and size from the header; undefined when the bytes are no image it knows. */
  probe(bytes: Uint8Array): Promise<{ format: string; width: number; height: number } | undefined>;
  /** 8-bit pixels with EXIF orientation applied and transparency flattened onto white. */
  decode(bytes: Uint8Array, channels: 1 | 3, maxPixels: number): Promise<{ width: number; height: number; data: Uint8Array }>;
  resize(image: DecodedImage, options: Required<ResizeOptions>): Promise<Omit<DecodedImage, 'format'>>;
}

export interface DecodeImageOptions {
  /** 1 = grey, 3 = RGB (default). Transparency is flattened onto white either way. */
  channels?: 1 | 3;
  /** Largest width × height accepted (default 40 million); checked from the header, before decoding. */
  maxPixels?: number;
  /** Formats accepted (default PNG, JPEG and WebP). */
  formats?: readonly ImageFormat[];
}

export const DEFAULT_MAX_IMAGE_PIXELS = 40_000_000;
const DEFAULT_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp'];
const FORMAT_NAMES: Record<ImageFormat, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };

function formatPixels(pixels: number): string {
  return pixels >= 1e6 ? `${(pixels / 1e6).toFixed(1)} megapixels` : `${pixels.toLocaleString('en-US')} pixels`;
}

function formatList(formats: readonly ImageFormat[]): string {
  const names = formats.map((f) => FORMAT_NAMES[f]);
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/**
 * Decodes a PNG, JPEG or WebP into 8-bit pixels: EXIF orientation applied, transparency flattened
 * onto white. The header is checked first, so a small file that claims a huge image (a
 * decompression bomb) is refused before any pixel is decoded. In Node this is sharp (libvips); in
 * a browser bundle (`slipway edge`) it is the browser's own decoder with libvips's colour steps, so
 * a handler gets the same pixels in both places.
 *
 * Throws INVALID_INPUT (400) for a file that is not an accepted image, PAYLOAD_TOO_LARGE (413) for
 * one over `maxPixels`.
 *
 * @example
 * const image = await decodeImage(upload, { channels: 1, maxPixels: 4_000_000 });
 * console.log(image.width, image.height, image.data.length); // w, h, w*h
 */
export async function decodeImage(input: UploadedFile | Uint8Array, options: DecodeImageOptions = {}): Promise<DecodedImage> {
  const bytes = input instanceof Uint8Array ? input : input.data;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_IMAGE_PIXELS;
  const formats = options.formats ?? DEFAULT_FORMATS;
  const channels = options.channels ?? 3;
  const header = await imageCodec.probe(bytes);
  if (header === undefined) throw new ServingError('INVALID_INPUT', `not an image: expected ${formatList(formats)}`);
  const { format, width, height } = header;
  if (!(formats as readonly string[]).includes(format)) {
    throw new ServingError('INVALID_INPUT', `unsupported image format '${format}': expected ${formatList(formats)}`);
  }
  if (width * height > maxPixels) {
    throw new ServingError(
      'PAYLOAD_TOO_LARGE',
      `image is ${width}×${height} (${formatPixels(width * height)}), more than the limit of ${formatPixels(maxPixels)}`,
    );
  }
  try {
    const pixels = await imageCodec.decode(bytes, channels, maxPixels);
    return { ...pixels, channels, format };
  } catch (error) {
    throw new ServingError('INVALID_INPUT', `${FORMAT_NAMES[format as ImageFormat]} image could not be decoded (truncated or corrupt): ${(error as Error).message}`);
  }
}

export interface ResizeOptions {
  /** Size of the result in pixels (rounded to whole pixels). */
  width: number;
  height: number;
  /**
   * `fill` (default) stretches to exactly width × height; `inside` keeps the aspect ratio within
   * them; `contain` keeps it and pads with `background`.
   */
  fit?: 'fill' | 'inside' | 'contain';
  /** Padding for `contain`, 0..255 for every channel (default 0). */
  background?: number;
  /** Resampling kernel (default `linear`: bilinear, as OpenCV's default resize). */
  kernel?: 'nearest' | 'linear' | 'cubic' | 'lanczos3';
}

/**
 * Resizes decoded pixels as libvips does (sharp in Node, an exact port of the same arithmetic in a
 * browser bundle); the result has the same channel count.
 *
 * @example
 * const small = await resizeImage(image, { width: 320, height: 48, fit: 'fill' });
 */
export async function resizeImage(image: DecodedImage, options: ResizeOptions): Promise<DecodedImage> {
  if (!(options.width >= 1 && options.height >= 1)) {
    throw new RangeError(`resizeImage: width and height must be at least 1, got ${options.width}×${options.height}`);
  }
  const resized = await imageCodec.resize(image, {
    width: Math.round(options.width),
    height: Math.round(options.height),
    fit: options.fit ?? 'fill',
    kernel: options.kernel ?? 'linear',
    background: options.background ?? 0,
  });
  if (resized.channels !== image.channels) throw new Error(`resizeImage: got ${resized.channels} channels back instead of ${image.channels}`);
  return { ...resized, format: image.format };
}

export interface ImageTensorOptions {
  /** `CHW` (default, what most vision graphs take) or `HWC`. */
  layout?: 'CHW' | 'HWC';
  /** `RGB` (default) or `BGR` (models trained on OpenCV-read images). Ignored for grey images. */
  channelOrder?: 'RGB' | 'BGR';
  /** Each value is divided by this first (default 255). */
  scale?: number;
  /** Subtracted per channel after scaling, in the output's channel order (default 0). */
  mean?: readonly number[];
  /** Divided per channel after the mean (default 1). */
  std?: readonly number[];
  /** Output width; wider than the image pads on the right with `padValue` (default: the image's width). */
  width?: number;
  /** Value of padded pixels, in the normalised space (default 0). */
  padValue?: number;
}

/**
 * Turns 8-bit pixels into a normalised float tensor: `((pixel / scale) - mean) / std`, per channel.
 *
 * @example
 * // ImageNet normalisation, BGR channel order, CHW layout:
 * const data = imageToTensor(image, { channelOrder: 'BGR', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
 */
export function imageToTensor(image: DecodedImage, options: ImageTensorOptions = {}): Float32Array {
  const { width, height, channels, data } = image;
  const outWidth = options.width ?? width;
  if (outWidth < width) throw new RangeError(`imageToTensor: width ${outWidth} is narrower than the image (${width})`);
  const scale = options.scale ?? 255;
  const bgr = channels === 3 && options.channelOrder === 'BGR';
  const chw = (options.layout ?? 'CHW') === 'CHW';
  const out = new Float32Array(channels * height * outWidth);
  if (options.padValue !== undefined && options.padValue !== 0) out.fill(options.padValue);
  for (let c = 0; c < channels; c++) {
    const source = bgr ? 2 - c : c;
    const mean = options.mean?.[c] ?? 0;
    const std = options.std?.[c] ?? 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const value = (data[(y * width + x) * channels + source]! / scale - mean) / std;
        out[chw ? (c * height + y) * outWidth + x : (y * outWidth + x) * channels + c] = value;
      }
    }
  }
  return out;
}

export interface ImageFieldOptions extends DecodeImageOptions {
  /** Largest encoded file, in bytes (413 beyond). */
  maxBytes?: number;
  description?: string;
}

/**
 * A schema field that takes an uploaded image (PNG, JPEG or WebP: a multipart part, the raw body,
 * or base64 / a data: URL in JSON) and hands the handler its decoded pixels. A file that is not an
 * accepted image answers 400 naming the field; one over the size limits answers 413.
 *
 * @example
 * import { defineHandler, image, z } from 'slipway';
 * export default defineHandler({
 *   input: z.object({ photo: image({ channels: 3, maxPixels: 12_000_000 }) }),
 *   output: z.object({ width: z.number(), height: z.number() }),
 *   predict: ({ photo }) => ({ width: photo.width, height: photo.height }),
 * });
 */
export function image(options: ImageFieldOptions = {}) {
  const formats = options.formats ?? DEFAULT_FORMATS;
  const description = options.description ?? `an image (${formatList(formats)}): a multipart file part, or base64 / a data: URL in JSON`;
  return z
    .custom<UploadedFile | string>((v) => typeof v === 'string' || isUploadedFile(v), {
      error: `expected an image (${formatList(formats)}): base64 text, a data: URL, or a multipart file part`,
    })
    .transform(async (value, ctx): Promise<DecodedImage> => {
      const file = toUploadedFile(value, ctx, options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes });
      if (file === undefined) return z.NEVER;
      try {
        return await decodeImage(file, options);
      } catch (error) {
        if (!(error instanceof ServingError)) throw error;
        ctx.issues.push(
          error.code === 'PAYLOAD_TOO_LARGE' ? tooLargeIssue(error.message, value) : { code: 'custom', message: error.message, input: value },
        );
        return z.NEVER;
      }
    })
    .meta(fileJsonSchema('image', description));
}
