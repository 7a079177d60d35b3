// Measures the OCR pipeline on printed text with known content, rendered here with sharp (libvips +
// Pango) and the DejaVu fonts (Debian's fonts-dejavu-core): several fonts, sizes, colours, light
// text on dark, slight rotations, upside-down pages and JPEG artefacts. The text comes from a
// seeded generator, so the set is the same on every run and nothing is tuned on a fixed sample.
//
//   node dist/examples/models/ocr/evaluate.js [--count 40] [--seed 1] [--url http://127.0.0.1:8000] [--space-threshold 0.005]
//
// Without --url it serves examples/models in-process. It prints one row per image and the totals.
import { existsSync, realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const FONT_DIR = '/usr/share/fonts/truetype/dejavu';

/** Fonts in Debian's fonts-dejavu-core, with the family names Pango knows them by. */
export const FONTS: ReadonlyArray<{ file: string; family: string }> = [
  { file: 'DejaVuSans.ttf', family: 'DejaVu Sans' },
  { file: 'DejaVuSans-Bold.ttf', family: 'DejaVu Sans Bold' },
  { file: 'DejaVuSerif.ttf', family: 'DejaVu Serif' },
  { file: 'DejaVuSerif-Bold.ttf', family: 'DejaVu Serif Bold' },
  { file: 'DejaVuSansMono.ttf', family: 'DejaVu Sans Mono' },
  { file: 'DejaVuSansMono-Bold.ttf', family: 'DejaVu Sans Mono Bold' },
];

/** True when every font the test set uses is installed. */
export function fontsInstalled(): boolean {
  return FONTS.every((f) => existsSync(`${FONT_DIR}/${f.file}`));
}

const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what ' +
  'all were we when your can said there use an each which she do how their if will up other about out many then them these ' +
  'so some her would make like him into time has look two more write go see number no way could people my than first water ' +
  'been call who oil its now find long down day did get come made may part over new sound take only little work know place ' +
  'year live me back give most very after thing our just name good sentence man think say great where help through much before ' +
  'line right too mean old any same tell boy follow came want show also around form three small set put end does another well ' +
  'large must big even such because turn here why ask went men read need land different home us move try kind hand picture ' +
  'again change off play spell air away animal house point page letter mother answer found study still learn should world ' +
  'invoice total amount payment customer order shipping address account balance receipt delivery service product quantity'
).split(' ');
const NAMES = ['London', 'Paris', 'Berlin', 'Tokyo', 'Madrid', 'Oslo', 'Lisbon', 'Vienna', 'Dublin', 'Prague', 'Smith', 'Garcia', 'Chen', 'Novak'];

/** mulberry32: a small seeded generator, so the test set is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function textLine(random: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  switch (int(0, 9)) {
    case 0:
      return `Total: $${int(1, 9999).toLocaleString('en-US')}.${pad(int(0, 99), 2)}`;
    case 1:
      return `Date: ${int(1990, 2030)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)} ${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}`;
    case 2:
      return `Order #${String.fromCharCode(65 + int(0, 25))}${int(100, 999)}-${int(10, 99)} for ${pick(NAMES)}`;
    case 3:
      return `${pick(WORDS)}.${pick(NAMES).toLowerCase()}@example.com`;
    case 4:
      return `Tel +${int(1, 99)} ${int(10, 99)} ${int(1000, 9999)} ${int(1000, 9999)}`;
    default: {
      const words = Array.from({ length: int(3, 7) }, () => pick(WORDS));
      if (random() < 0.4) words[int(0, words.length - 1)] = pick(NAMES);
      if (random() < 0.3) words.push(String(int(2, 500)));
      const sentence = words.join(' ');
      return sentence[0]!.toUpperCase() + sentence.slice(1) + pick(['.', '.', ',', '!', '?', ':', ';', '']);
    }
  }
}

export interface OcrSample {
  name: string;
  font: string;
  /** `upright`, `rotated` (1-4°) or `upside down`. */
  pose: string;
  jpeg: boolean;
  inverted: boolean;
  /** PNG or JPEG bytes. */
  bytes: Buffer;
  mediaType: 'image/png' | 'image/jpeg';
  /** The text, line by line, in reading order. */
  lines: string[];
  description: string;
}

const escapeMarkup = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const hex = (v: number): string => v.toString(16).padStart(2, '0');

/** Renders `count` images of seeded random printed text. */
export async function renderTestSet(count = 40, seed = 1): Promise<OcrSample[]> {
  const random = rng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const samples: OcrSample[] = [];
  for (let n = 0; n < count; n++) {
    const font = FONTS[n % FONTS.length]!;
    const size = int(16, 40);
    const lines = Array.from({ length: int(1, 4) }, () => textLine(random));
    const dark = int(0, 60);
    const light = int(205, 255);
    const inverted = random() < 0.2;
    const [ink, paper] = inverted ? [light, dark] : [dark, light];
    const tint = int(-20, 20);
    const inkColour = `#${hex(ink)}${hex(ink)}${hex(Math.max(0, Math.min(255, ink + tint)))}`;
    const paperRgb = { r: paper, g: Math.max(0, Math.min(255, paper - tint)), b: paper };
    const rendered = await sharp({
      text: {
        text: `<span foreground="${inkColour}">${escapeMarkup(lines.join('\n'))}</span>`,
        font: `${font.family} ${size}`,
        fontfile: `${FONT_DIR}/${font.file}`,
        dpi: 72,
        rgba: true,
        spacing: Math.round(size * (0.3 + random() * 0.5)),
      },
    })
      .png()
      .toBuffer();
    const margin = int(12, 48);
    let page = sharp(rendered)
      .extend({ top: margin, bottom: margin, left: margin, right: margin, background: { ...paperRgb, alpha: 0 } })
      .flatten({ background: paperRgb });
    const roll = random();
    let pose = 'upright';
    if (roll < 0.15) {
      pose = 'upside down';
      page = sharp(await page.png().toBuffer()).rotate(180);
    } else if (roll < 0.35) {
      const angle = (random() < 0.5 ? -1 : 1) * (1 + random() * 3);
      pose = `rotated ${angle.toFixed(1)}°`;
      page = sharp(await page.png().toBuffer()).rotate(angle, { background: paperRgb });
    }
    const jpeg = random() < 0.25;
    const bytes = jpeg ? await page.jpeg({ quality: int(55, 85) }).toBuffer() : await page.png().toBuffer();
    samples.push({
      name: `sample-${String(n).padStart(3, '0')}.${jpeg ? 'jpg' : 'png'}`,
      font: font.family,
      pose: pose.startsWith('rotated') ? 'rotated' : pose,
      jpeg,
      inverted,
      bytes,
      mediaType: jpeg ? 'image/jpeg' : 'image/png',
      lines,
      description: `${font.family} ${size}px, ${inverted ? 'light on dark' : 'dark on light'}, ${pose}${jpeg ? ', JPEG' : ''}`,
    });
  }
  return samples;
}

/** Edit distance (insertions, deletions, substitutions) between two strings, by code point. */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[y.length]!;
}

/** Exact text, whitespace runs as one space and lines joined by newlines. */
export const strictText = (lines: readonly string[]): string => lines.map((l) => l.replace(/\s+/g, ' ').trim()).join('\n');
/**
 * The characters only: NFKC (full-width ！ and ＄ read as ! and $) and no whitespace. PP-OCRv4's
 * Chinese model is known to drop spaces between English words (PaddleOCR issue #11386), which this
 * measure leaves aside so the glyphs' accuracy shows on its own.
 */
export const glyphText = (lines: readonly string[]): string => lines.join('').normalize('NFKC').replace(/\s+/g, '');

export interface AccuracyTotals {
  characters: number;
  errors: number;
  /** 1 − CER: 1 − errors / characters. */
  accuracy: number;
}

export function accuracy(pairs: ReadonlyArray<{ expected: string; actual: string }>): AccuracyTotals {
  let characters = 0;
  let errors = 0;
  for (const { expected, actual } of pairs) {
    characters += [...expected].length;
    errors += editDistance(expected, actual);
  }
  return { characters, errors, accuracy: characters === 0 ? 1 : 1 - errors / characters };
}

export interface OcrAnswer {
  lines: Array<{ text: string; confidence: number; angle: number }>;
}

/** Posts one sample to an OCR predict endpoint as a multipart upload. */
export async function readSample(predictUrl: string, sample: OcrSample, fields: Record<string, string> = {}): Promise<OcrAnswer> {
  const form = new FormData();
  form.append('image', new Blob([sample.bytes], { type: sample.mediaType }), sample.name);
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const response = await fetch(predictUrl, { method: 'POST', body: form });
  const body = (await response.json()) as OcrAnswer & { error?: string };
  if (response.status !== 200) throw new Error(`${sample.name}: HTTP ${response.status}: ${body.error ?? ''}`);
  return body;
}

export interface Evaluation {
  strict: AccuracyTotals;
  glyph: AccuracyTotals;
  rows: Array<{ sample: OcrSample; actual: string[] }>;
}

/** Reads every sample (a few at a time, as clients would) and scores the answers. */
export async function evaluate(
  predictUrl: string,
  samples: readonly OcrSample[],
  options: { concurrency?: number; fields?: Record<string, string> } = {},
): Promise<Evaluation> {
  const concurrency = options.concurrency ?? 2;
  const rows: Evaluation['rows'] = new Array(samples.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < samples.length) {
        const i = next++;
        const answer = await readSample(predictUrl, samples[i]!, options.fields);
        rows[i] = { sample: samples[i]!, actual: answer.lines.map((l) => l.text) };
      }
    }),
  );
  return {
    strict: accuracy(rows.map((r) => ({ expected: strictText(r.sample.lines), actual: strictText(r.actual) }))),
    glyph: accuracy(rows.map((r) => ({ expected: glyphText(r.sample.lines), actual: glyphText(r.actual) }))),
    rows,
  };
}

async function main(argv: string[]): Promise<void> {
  const option = (name: string, fallback: string): string => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  if (!fontsInstalled()) throw new Error(`the DejaVu fonts are missing from ${FONT_DIR} (apt-get install fonts-dejavu-core)`);
  const samples = await renderTestSet(Number(option('count', '40')), Number(option('seed', '1')));
  let url = option('url', '');
  let close = async (): Promise<void> => undefined;
  if (url === '') {
    const { Slipway, createHttpServer } = await import('slipway');
    // Compiled to dist/examples/models/ocr/, four levels below the project root.
    const root = fileURLToPath(new URL('../../../../', import.meta.url));
    const slipway = await Slipway.open({ models: ['ocr', 'ocr_det', 'ocr_cls', 'ocr_rec'].map((m) => `${root}examples/models/${m}`) });
    const app = createHttpServer(slipway);
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    close = async () => {
      await app.close();
      await slipway.close();
    };
  }
  try {
    const started = performance.now();
    const threshold = option('space-threshold', '');
    const result = await evaluate(`${url}/api/models/ocr/predict`, samples, threshold === '' ? {} : { fields: { space_threshold: threshold } });
    const seconds = (performance.now() - started) / 1000;
    for (const { sample, actual } of result.rows) {
      const errors = editDistance(strictText(sample.lines), strictText(actual));
      console.log(`${sample.name}  ${String(errors).padStart(3)} edits  ${sample.description}`);
      if (errors > 0) console.log(`    expected: ${JSON.stringify(sample.lines)}\n    read:     ${JSON.stringify(actual)}`);
    }
    const pct = (t: AccuracyTotals): string => `${(t.accuracy * 100).toFixed(2)}% (${t.errors} edits / ${t.characters} characters)`;
    console.log(`\n${samples.length} images in ${seconds.toFixed(1)} s`);
    console.log(`character accuracy, exact text incl. spaces: ${pct(result.strict)}`);
    console.log(`character accuracy, glyphs (NFKC, no whitespace): ${pct(result.glyph)}`);
    const groups: Array<[string, (s: OcrSample) => string]> = [
      ['font', (s) => s.font],
      ['pose', (s) => s.pose],
      ['encoding', (s) => (s.jpeg ? 'JPEG' : 'PNG')],
      ['colours', (s) => (s.inverted ? 'light on dark' : 'dark on light')],
    ];
    for (const [title, key] of groups) {
      console.log(`\nby ${title} (exact):`);
      for (const value of [...new Set(result.rows.map((r) => key(r.sample)))].sort()) {
        const rows = result.rows.filter((r) => key(r.sample) === value);
        const totals = accuracy(rows.map((r) => ({ expected: strictText(r.sample.lines), actual: strictText(r.actual) })));
        console.log(`  ${value.padEnd(24)} ${String(rows.length).padStart(4)} images  ${pct(totals)}`);
      }
    }
  } finally {
    await close();
  }
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
