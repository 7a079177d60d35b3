// The digits model as an app: any PNG, JPEG or WebP of one digit in (a canvas drawing, a photo, a
// screenshot), the digit, its probabilities and the 8×8 picture the model actually read out. The
// graph stays as it is (OIP /v2/models/digits/infer takes the raw 8×8 pixels); this handler wraps it
// with the image work around it.
import { defineHandler, image, z } from 'slipway';
import { toDigitPixels } from './to-digit-pixels.js';

/** What preprocess sent for a request (keyed by its validated input, which postprocess gets too). */
const sent = new WeakMap<object, Float32Array>();

export default defineHandler({
  description: 'Reads one handwritten or printed digit (0-9) from a picture or a drawing.',
  input: z.object({
    image: image({ channels: 1, maxPixels: 16_000_000, description: 'a picture of one digit, dark on light or light on dark: PNG, JPEG or WebP' }),
  }),
  output: z.object({
    label: z.number().int().min(0).max(9).describe('the most likely digit'),
    confidence: z.number().min(0).max(1).describe('its probability'),
    probabilities: z.array(z.number().min(0).max(1)).length(10).describe('probability of each digit, index = digit'),
    pixels: z
      .array(z.array(z.number().min(0).max(16)).length(8))
      .length(8)
      .describe('the 8×8 picture the model read (0..16, ink high): the digit cropped, centred and its strokes normalised'),
  }),
  preprocess: (input) => {
    const { pixels } = toDigitPixels(input.image);
    // A copy: the tensor's buffer moves to the model's thread and is gone from this one.
    sent.set(input, pixels.slice());
    return { image: { shape: [1, 1, 8, 8], data: pixels } };
  },
  postprocess: ({ probabilities }, _ctx, input) => {
    const p = Array.from(probabilities!.data as Float32Array);
    const label = p.indexOf(Math.max(...p));
    const read = sent.get(input)!;
    const pixels = Array.from({ length: 8 }, (_, row) => Array.from(read.subarray(row * 8, row * 8 + 8), (v) => Math.round(v * 100) / 100));
    return { label, confidence: p[label]!, probabilities: p, pixels };
  },
});
