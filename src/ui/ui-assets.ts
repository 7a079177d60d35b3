import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where `npm run build` (scripts/build-ui.ts) writes the bundled UI: dist/src/ui/static, beside this file once compiled. */
export const UI_STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

/** The page shell's name among the built files; it names the hashed script and style sheet. */
export const UI_INDEX_FILE = 'index.html';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export interface UiAsset {
  contentType: string;
  body: Buffer;
  /** The same bytes gzipped, when that is smaller (text files). */
  gzip?: Buffer;
}

/** The built UI held in memory (about 100 KB), gzipped once at start. */
export interface UiAssets {
  index: UiAsset;
  files: ReadonlyMap<string, UiAsset>;
}

/**
 * Reads the built UI. Undefined when it has not been built (`tsc` alone does not bundle it), so
 * the server can say so instead of serving a blank page.
 */
export function loadUiAssets(dir: string = UI_STATIC_DIR): UiAssets | undefined {
  if (!existsSync(join(dir, UI_INDEX_FILE))) return undefined;
  const files = new Map<string, UiAsset>();
  let index: UiAsset | undefined;
  for (const name of readdirSync(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType === undefined) continue;
    const body = readFileSync(join(dir, name));
    const asset: UiAsset = { contentType, body };
    if (/^text\/|json|svg/.test(contentType)) {
      const gzip = gzipSync(body, { level: 9 });
      if (gzip.byteLength < body.byteLength) asset.gzip = gzip;
    }
    if (name === UI_INDEX_FILE) index = asset;
    else files.set(name, asset);
  }
  return index === undefined ? undefined : { index, files };
}
