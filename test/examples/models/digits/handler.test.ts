// The digits handler: pictures of a digit, any size, either polarity, PNG/JPEG/WebP, through
// POST /api/models/digits/predict; the raw graph keeps answering on OIP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { FONT_DIR, FONTS, fontsInstalled } from '../../../../examples/models/ocr/evaluate.js';
import { EXAMPLES } from '../../../helpers/paths.js';
import { requirement } from '../../../helpers/requirements.js';
import { post, startTestServer, type TestServer } from '../../../helpers/test-server.js';

const SAMPLES = JSON.parse(readFileSync(`${EXAMPLES}/digits/samples.json`, 'utf8')) as Array<{ label: number; image: number[][][] }>;
// Measured: 47 of the 60 digits in the six DejaVu faces (the model learned handwriting; printed 7s
// read as 3 and sans-serif 1s as 2). The floor guards the preprocessing, not the model.
const FONT_FLOOR = 0.7;

async function classify(url: string, bytes: Buffer, type: string): Promise<{ status: number; body: { label: number; confidence: number; probabilities: number[]; error?: string } }> {
  const response = await fetch(url, { method: 'POST', body: bytes, headers: { 'content-type': type } });
  return { status: response.status, body: (await response.json()) as { label: number; confidence: number; probabilities: number[] } };
}

/** A sample's 8×8 load_digits pixels (16 = ink) as a picture: scaled up, placed off-centre. */
function picture(pixels: number[], inkOnLight: boolean, size: number, format: 'png' | 'jpeg' | 'webp'): Promise<Buffer> {
  const grey = Buffer.from(pixels.map((v) => (inkOnLight ? 255 - Math.round((v * 255) / 16) : Math.round((v * 255) / 16))));
  const paper = inkOnLight ? '#ffffff' : '#000000';
  return sharp(grey, { raw: { width: 8, height: 8, channels: 1 } })
    .resize(size, size, { kernel: 'nearest' })
    .extend({ top: size / 4, bottom: size / 8, left: size / 2, right: size / 8, background: paper })
    .toFormat(format, { quality: 90 })
    .toBuffer();
}

describe('digits handler (examples/models/digits)', () => {
  let server: TestServer;
  let url: string;
  before(async () => {
    server = await startTestServer({ models: [`${EXAMPLES}/digits`] });
    url = `${server.url}/api/models/digits/predict`;
  });
  after(() => server.close());

  test('every held-out sample, as a picture of any size, polarity and format, reads as its label', async () => {
    const cases = [
      { inkOnLight: true, size: 64, format: 'png' as const },
      { inkOnLight: false, size: 200, format: 'png' as const },
      { inkOnLight: true, size: 96, format: 'jpeg' as const },
      { inkOnLight: false, size: 48, format: 'webp' as const },
    ];
    for (const { label, image } of SAMPLES) {
      for (const c of cases) {
        const { status, body } = await classify(url, await picture(image.flat(2), c.inkOnLight, c.size, c.format), `image/${c.format}`);
        assert.equal(status, 200, JSON.stringify(body));
        assert.equal(body.label, label, `digit ${label} as ${JSON.stringify(c)}: read ${body.label} (${body.probabilities.map((p) => p.toFixed(2))})`);
        assert.equal(body.probabilities.length, 10);
        assert.ok(Math.abs(body.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4);
        assert.equal(body.confidence, body.probabilities[label]);
      }
    }
  });

  test('base64 in JSON and multipart work too', async () => {
    const bytes = await picture(SAMPLES[3]!.image.flat(2), true, 80, 'png');
    const json = await post(url, { image: `data:image/png;base64,${bytes.toString('base64')}` });
    assert.equal(json.body.label, 3);
    const form = new FormData();
    form.append('image', new Blob([bytes], { type: 'image/png' }), 'three.png');
    const multipart = await fetch(url, { method: 'POST', body: form });
    assert.equal(((await multipart.json()) as { label: number }).label, 3);
  });

  test('digits printed in a font', requirement(fontsInstalled(), `the DejaVu fonts in ${FONT_DIR} (Debian fonts-dejavu-core)`), async (t) => {
    let right = 0;
    const misread: string[] = [];
    for (const font of FONTS) {
      for (let digit = 0; digit <= 9; digit++) {
        const glyph = await sharp({ text: { text: String(digit), font: `${font.family} 90`, fontfile: `${FONT_DIR}/${font.file}`, dpi: 72, rgba: true } })
          .png()
          .toBuffer();
        const png = await sharp(glyph)
          .extend({ top: 30, bottom: 30, left: 30, right: 30, background: { r: 255, g: 255, b: 255, alpha: 0 } })
          .flatten({ background: '#ffffff' })
          .png()
          .toBuffer();
        const { status, body } = await classify(url, png, 'image/png');
        assert.equal(status, 200);
        if (body.label === digit) right += 1;
        else misread.push(`${font.family} ${digit}→${body.label}`);
      }
    }
    const accuracy = right / (FONTS.length * 10);
    t.diagnostic(`font digits: ${right}/${FONTS.length * 10}; misread: ${misread.join(', ')}`);
    assert.ok(accuracy >= FONT_FLOOR, `only ${right} of ${FONTS.length * 10} font digits read right: ${misread.join(', ')}`);
  });

  test('a blank picture is refused with a reason; a non-image too', async () => {
    const blank = await sharp({ create: { width: 50, height: 50, channels: 3, background: '#808080' } }).png().toBuffer();
    const { status, body } = await classify(url, blank, 'image/png');
    assert.equal(status, 400);
    assert.equal(body.error, 'image: no digit found (the picture has almost no contrast)');
    const text = await classify(url, Buffer.from('seven'), 'application/octet-stream');
    assert.equal(text.status, 400);
    assert.match(text.body.error!, /image: not an image/);
  });

  test('the graph still answers OIP with raw 8×8 pixels', async () => {
    const sample = SAMPLES[7]!;
    const { status, body } = await post(`${server.url}/v2/models/digits/infer`, {
      inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: sample.image.flat(2) }],
    });
    assert.equal(status, 200);
    const p = body.outputs[0].data as number[];
    assert.equal(p.indexOf(Math.max(...p)), 7);
  });
});
