// The digits model as an app: any PNG, JPEG or WebP of one digit in, the digit and its
// probabilities out. The graph stays as it is (OIP /v2/models/digits/infer takes the raw 8×8
// pixels); this handler wraps it with the image work around it.
import { defineHandler, image, z } from 'slipway';
import { toDigitPixels } from './to-digit-pixels.js';

export default defineHandler({
  description: 'Classifies a picture of one handwritten digit (0-9).',
  input: z.object({
    image: image({ channels: 1, maxPixels: 16_000_000, description: 'a picture of one digit, dark on light or light on dark: PNG, JPEG or WebP' }),
  }),
  output: z.object({
    label: z.number().int().min(0).max(9).describe('the most likely digit'),
    confidence: z.number().min(0).max(1).describe('its probability'),
    probabilities: z.array(z.number().min(0).max(1)).length(10).describe('probability of each digit, index = digit'),
  }),
  preprocess: async ({ image }) => ({ image: { shape: [1, 1, 8, 8], data: await toDigitPixels(image) } }),
  postprocess: ({ probabilities }) => {
    const p = Array.from(probabilities!.data as Float32Array);
    const label = p.indexOf(Math.max(...p));
    return { label, confidence: p[label]!, probabilities: p };
  },
});
