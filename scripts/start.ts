// `npm start`: `slipway serve examples/models` with the glibc settings the image runs with
// (IMAGE_MALLOC_ENV), so memory comes back after outsized requests here as it does in the image.
// glibc reads them once, when the process starts, so they cannot be set from inside the server, and
// Node 20 cannot exec itself in place: this starts the server as a child. `slipway serve` itself does
// not do this (a second Node start on the cold-start path, and a parent between the orchestrator's
// signals and the server); README "Under load and abuse" says what to set there.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { IMAGE_MALLOC_ENV } from '../src/deploy/containerfile.js';

const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
// What the caller set wins: the defaults only fill what is unset.
const child = spawn(process.execPath, [main, 'serve', 'examples/models', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...IMAGE_MALLOC_ENV, ...process.env },
});
// Ctrl-C reaches the whole foreground process group, the server included: passing SIGINT on as well
// would be the server's second signal, which exits at once instead of draining. A SIGTERM sent to
// this process (npm passes its own on) is passed to the server.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + (signal === 'SIGINT' ? 2 : 15))));
