import { readFileSync } from 'node:fs';

// Read once from package.json so `GET /v2` and `--version` can never disagree with the package.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const SLIPWAY_VERSION: string = pkg.version;
