import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileHandler, handlerApiExports } from '../../src/edge/compile-handler.js';
import { edgeStaticDir } from '../../src/edge/edge-assets.js';

// A handler either compiles for the browser or is named, with the module and the import chain that
// keeps it in Node.

let dir: string;
let api: string[];

async function model(name: string, files: Record<string, string>): Promise<string> {
  const folder = join(dir, name);
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(folder, file, '..'), { recursive: true });
    await writeFile(join(folder, file), text);
  }
  return join(folder, 'handler.ts');
}

const HANDLER_HEAD = `import { defineHandler, z } from 'slipway';\n`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-compile-handler-'));
  api = await handlerApiExports(edgeStaticDir());
});
after(() => rm(dir, { recursive: true, force: true }));

describe('compileHandler', () => {
  test("a handler of plain TypeScript compiles, with 'slipway' left to the bundle's handler-api.js", async () => {
    const file = await model('clean', {
      'handler.ts': `${HANDLER_HEAD}import { double } from './double.js';\nexport default defineHandler({ input: z.object({ x: z.number() }), output: z.object({ y: z.number() }), predict: ({ x }) => ({ y: double(x) }) });\n`,
      'double.ts': 'export const double = (x: number): number => x * 2;\n',
    });
    const out = join(dir, 'clean-out');
    assert.deepEqual(await compileHandler(file, out, api), { runs: 'device', file: 'handler.js' });
    const code = await readFile(join(out, 'handler.js'), 'utf8');
    assert.match(code, /from"\.\/handler-api\.js"/);
    assert.doesNotMatch(code, /zod|ZodError/, 'zod comes from the runtime, not a second copy in the handler');
    assert.ok((await stat(join(out, 'handler.js.map'))).isFile());
  });

  test('a Node built-in anywhere in its imports keeps it on the server, named with the chain that reaches it', async () => {
    const file = await model('reads-files', {
      'handler.ts': `${HANDLER_HEAD}import { labels } from './labels.js';\nexport default defineHandler({ input: z.object({}), output: z.array(z.string()), predict: () => labels() });\n`,
      'labels.ts': `import { readFileSync } from 'node:fs';\nimport { join } from 'path';\nexport const labels = (): string[] => readFileSync(join('a', 'b'), 'utf8').split('\\n');\n`,
    });
    const out = join(dir, 'reads-files-out');
    const compiled = await compileHandler(file, out, api);
    assert.equal(compiled.runs, 'server');
    assert.equal((compiled as { reason: string }).reason, 'handler.ts imports Node-only modules: node:fs (handler.ts → labels.ts), path (handler.ts → labels.ts)');
    await assert.rejects(stat(join(out, 'handler.js')), 'nothing is written for a server-only handler');
  });

  test('a package that needs Node is named by its package name', async () => {
    const file = await model('native', {
      'handler.ts': `${HANDLER_HEAD}import spawnIt from 'spawns';\nexport default defineHandler({ input: z.object({}), output: z.string(), predict: () => spawnIt() });\n`,
      'node_modules/spawns/package.json': JSON.stringify({ name: 'spawns', main: 'index.js' }),
      'node_modules/spawns/index.js': `const { execSync } = require('child_process');\nmodule.exports = () => String(execSync('true'));\n`,
    });
    const compiled = await compileHandler(file, join(dir, 'native-out'), api);
    assert.deepEqual(compiled, { runs: 'server', reason: 'handler.ts imports Node-only modules: child_process (handler.ts → spawns)' });
  });

  test("a name from 'slipway' that only the server has is named, with what a browser handler has instead", async () => {
    const file = await model('server-api', {
      'handler.ts': `import { defineHandler, z, Slipway } from 'slipway';\nexport default defineHandler({ input: z.object({}), output: z.string(), predict: () => typeof Slipway });\n`,
    });
    const compiled = await compileHandler(file, join(dir, 'server-api-out'), api);
    assert.equal(compiled.runs, 'server');
    assert.match((compiled as { reason: string }).reason, /^handler\.ts imports 'Slipway' from 'slipway', which runs only in Node \(a browser handler has .*defineHandler.*image.*z\)$/);
  });

  test('code esbuild cannot compile is reported with its file and line', async () => {
    const file = await model('broken', { 'handler.ts': `${HANDLER_HEAD}export default defineHandler({ input: z.object({}), \n  output: ,\n});\n` });
    const compiled = await compileHandler(file, join(dir, 'broken-out'), api);
    assert.equal(compiled.runs, 'server');
    assert.match((compiled as { reason: string }).reason, /^handler\.ts cannot be compiled for a browser: .+ \(handler\.ts:3\)$/);
  });
});
