// Writes the OCR example picture the UI offers one click away (a file in the model folder's
// examples/): examples/models/ocr/examples/receipt.png, a receipt in DejaVu Sans Mono, tilted on a
// grey desk. (The digits' examples are canvas drawings, written by examples/models/digits/make_heldout.py.)
// Run: node dist/scripts/render-ui-examples.js
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const MODELS = fileURLToPath(new URL('../../examples/models/', import.meta.url));

async function receipt(): Promise<void> {
  const lines: Array<[string, number, string]> = [
    ['SLIPWAY CAFE', 34, 'bold'],
    ['12 Harbour Street', 24, 'normal'],
    ['Flat white        3.40', 26, 'normal'],
    ['Croissant         2.90', 26, 'normal'],
    ['Total             6.30 EUR', 26, 'bold'],
    ['Thank you!', 26, 'normal'],
  ];
  let y = 70;
  const text = lines
    .map(([line, size, weight]) => {
      const element = `<text x="50" y="${y}" font-family="DejaVu Sans Mono" font-size="${size}" font-weight="${weight}" xml:space="preserve">${line}</text>`;
      y += size * 1.9;
      return element;
    })
    .join('');
  const paper = await sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="560" height="${y + 10}"><rect width="100%" height="100%" fill="#fbfaf6"/>${text}</svg>`))
    .rotate(-4, { background: '#8a9099' })
    .png()
    .toBuffer();
  const { width = 0, height = 0 } = await sharp(paper).metadata();
  await mkdir(join(MODELS, 'ocr/examples'), { recursive: true });
  await sharp({ create: { width: width + 80, height: height + 60, channels: 3, background: '#8a9099' } })
    .composite([{ input: paper, left: 40, top: 30 }])
    .png({ compressionLevel: 9 })
    .toFile(join(MODELS, 'ocr/examples/receipt.png'));
}

await receipt();
process.stdout.write(`wrote the example pictures under ${MODELS}\n`);
