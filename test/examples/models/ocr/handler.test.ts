// The OCR pipeline end to end over HTTP: accuracy on the rendered test set (see
// examples/models/ocr/README.md for the measurement), PNG uploads, upside-down pages, JSON bodies.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { editDistance, evaluate, FONT_DIR, fontsInstalled, renderTestSet, strictText } from '../../../../examples/models/ocr/evaluate.js';
import { EXAMPLES } from '../../../helpers/paths.js';
import { requirement } from '../../../helpers/requirements.js';
import { get, post, startTestServer, type TestServer } from '../../../helpers/test-server.js';

// Floors a little under what was measured (README.md: 98.26% exact, 99.21% glyphs on these 40 images),
// so another libvips or font build cannot fail the test while a real regression does.
const EXACT_FLOOR = 0.96;
const GLYPH_FLOOR = 0.98;

const LINES = ['Invoice 2024-0117: 3 items', 'Total due $1,284.50 by May 31.'];
/** What examples/models/ocr/examples/receipt.png says (scripts/render-ui-examples.ts), line by line as a person reads it. */
const RECEIPT = ['SLIPWAY CAFE', '12 Harbour Street', 'Flat white 3.40', 'Croissant 2.90', 'Total 6.30 EUR', 'Thank you!'];

async function page(lines: readonly string[], size = 30): Promise<Buffer> {
  const text = await sharp({
    text: { text: lines.join('\n'), font: `DejaVu Sans ${size}`, fontfile: `${FONT_DIR}/DejaVuSans.ttf`, dpi: 72, rgba: true, spacing: 12 },
  })
    .png()
    .toBuffer();
  return sharp(text)
    .extend({ top: 40, bottom: 40, left: 40, right: 40, background: { r: 255, g: 255, b: 255, alpha: 0 } })
    .flatten({ background: '#ffffff' })
    .png()
    .toBuffer();
}

interface Line {
  text: string;
  confidence: number;
  box: Array<[number, number]>;
  angle: number;
}

describe('OCR pipeline (examples/models/ocr)', requirement(fontsInstalled(), `the DejaVu fonts in ${FONT_DIR} (Debian fonts-dejavu-core)`), () => {
  let server: TestServer;
  let url: string;
  before(async () => {
    server = await startTestServer({ models: ['ocr', 'ocr_det', 'ocr_cls', 'ocr_rec'].map((m) => `${EXAMPLES}/${m}`) });
    url = `${server.url}/api/models/ocr/predict`;
  });
  after(() => server.close());

  test('a PNG upload comes back as text lines with boxes and confidences', async () => {
    const png = await page(LINES);
    const { width, height } = await sharp(png).metadata();
    const form = new FormData();
    form.append('image', new Blob([png], { type: 'image/png' }), 'invoice.png');
    const response = await fetch(url, { method: 'POST', body: form });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { width: number; height: number; lines: Line[]; text: string };
    assert.deepEqual([body.width, body.height], [width, height]);
    assert.equal(body.lines.length, 2);
    assert.equal(body.text, body.lines.map((l) => l.text).join('\n'));
    body.lines.forEach((line, i) => {
      assert.ok(editDistance(line.text, LINES[i]!) <= 1, `line ${i}: read ${JSON.stringify(line.text)} for ${JSON.stringify(LINES[i])}`);
      assert.ok(line.confidence > 0.8 && line.confidence <= 1, `confidence ${line.confidence}`);
      assert.equal(line.angle, 0);
      for (const [x, y] of line.box) assert.ok(x >= 0 && x <= width! && y >= 0 && y <= height!, `corner (${x}, ${y}) inside the image`);
      const [tl, tr, br, bl] = line.box as [[number, number], [number, number], [number, number], [number, number]];
      assert.ok(tl[0] < tr[0] && bl[0] < br[0] && tl[1] < bl[1] && tr[1] < br[1], `corners in order: ${JSON.stringify(line.box)}`);
    });
    assert.ok(body.lines[0]!.box[2]![1] <= body.lines[1]!.box[0]![1] + 4, 'the first line is above the second');
  });

  test('an upside-down page is read the right way up, in reading order', async () => {
    const png = await sharp(await page(LINES)).rotate(180).png().toBuffer();
    const { status, body } = await post(url, { image: png.toString('base64') });
    assert.equal(status, 200);
    assert.deepEqual(body.lines.map((l: Line) => l.angle), [180, 180]);
    body.lines.forEach((line: Line, i: number) => assert.ok(editDistance(line.text, LINES[i]!) <= 1, `read ${JSON.stringify(line.text)}`));
  });

  test('the bundled receipt reads in order: each item with its price on one line', async () => {
    const receipt = readFileSync(`${EXAMPLES}/ocr/examples/receipt.png`);
    const { status, body } = await post(url, { image: receipt.toString('base64') });
    assert.equal(status, 200);
    assert.equal(body.rotation, 0);
    assert.deepEqual(body.lines.map((l: Line) => l.text), RECEIPT);
  });

  for (const rotation of [90, 270] as const) {
    test(`the receipt turned ${rotation}° is read upright, in order, and reported as turned`, async () => {
      const turned = await sharp(readFileSync(`${EXAMPLES}/ocr/examples/receipt.png`)).rotate(rotation).png().toBuffer();
      const { status, body } = await post(url, { image: turned.toString('base64') });
      assert.equal(status, 200);
      assert.equal(body.rotation, rotation);
      assert.deepEqual(body.lines.map((l: Line) => [l.text, l.angle]), RECEIPT.map((text) => [text, rotation]));
    });
  }

  test(`rendered pages turned 90° and 270° keep the accuracy floors (${EXACT_FLOOR} exact, ${GLYPH_FLOOR} glyphs)`, async (t) => {
    // Another seed than the upright set; every other page turned each way.
    const samples = await Promise.all(
      (await renderTestSet(12, 2)).map(async (sample, i) => ({
        ...sample,
        bytes: await sharp(sample.bytes).rotate(i % 2 === 0 ? 90 : 270).png().toBuffer(),
        mediaType: 'image/png' as const,
        pose: `${sample.pose}, turned ${i % 2 === 0 ? 90 : 270}°`,
      })),
    );
    const result = await evaluate(url, samples);
    t.diagnostic(`turned pages: exact ${(result.strict.accuracy * 100).toFixed(2)}%, glyphs ${(result.glyph.accuracy * 100).toFixed(2)}%`);
    const worst = result.rows.map((r) => ({ pose: r.sample.pose, expected: r.sample.lines, read: r.actual })).filter((r) => strictText(r.expected) !== strictText(r.read));
    assert.ok(result.strict.accuracy >= EXACT_FLOOR, `exact accuracy ${result.strict.accuracy}: ${JSON.stringify(worst)}`);
    assert.ok(result.glyph.accuracy >= GLYPH_FLOOR, `glyph accuracy ${result.glyph.accuracy}: ${JSON.stringify(worst)}`);
  });

  test('a blank page has no lines; a file that is not an image is refused', async () => {
    const blank = await sharp({ create: { width: 300, height: 200, channels: 3, background: 'white' } }).jpeg().toBuffer();
    const empty = await fetch(url, { method: 'POST', body: blank, headers: { 'content-type': 'image/jpeg' } });
    assert.equal(empty.status, 200);
    assert.deepEqual(await empty.json(), { width: 300, height: 200, lines: [], rotation: 0, text: '' });
    const wrong = await post(url, { image: Buffer.from('%PDF-1.7').toString('base64') });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid input: image: not an image: expected PNG, JPEG or WebP');
  });

  test('the handler describes its options', async () => {
    const { body } = await get(`${server.url}/api/models/ocr`);
    const props = body.handler.input_schema.properties;
    assert.deepEqual(Object.keys(props).sort(), [
      'box_threshold',
      'classify_orientation',
      'det_threshold',
      'group_words',
      'image',
      'max_side',
      'min_confidence',
      'space_threshold',
      'unclip_ratio',
    ]);
    assert.equal(props.det_threshold.default, 0.3);
    assert.equal(body.handler.output_schema.properties.lines.type, 'array');
  });

  test(`character accuracy on the rendered test set stays above ${EXACT_FLOOR} (exact) and ${GLYPH_FLOOR} (glyphs)`, async (t) => {
    const samples = await renderTestSet(40, 1);
    const result = await evaluate(url, samples);
    t.diagnostic(`exact: ${(result.strict.accuracy * 100).toFixed(2)}% (${result.strict.errors}/${result.strict.characters}); glyphs: ${(result.glyph.accuracy * 100).toFixed(2)}% (${result.glyph.errors}/${result.glyph.characters})`);
    const worst = result.rows
      .map((r) => ({ name: r.sample.name, edits: editDistance(strictText(r.sample.lines), strictText(r.actual)), expected: r.sample.lines, read: r.actual }))
      .sort((a, b) => b.edits - a.edits)
      .slice(0, 3);
    assert.ok(result.strict.accuracy >= EXACT_FLOOR, `exact accuracy ${result.strict.accuracy}; worst: ${JSON.stringify(worst)}`);
    assert.ok(result.glyph.accuracy >= GLYPH_FLOOR, `glyph accuracy ${result.glyph.accuracy}; worst: ${JSON.stringify(worst)}`);
  });
});
