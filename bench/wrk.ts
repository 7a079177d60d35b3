// Debian's wrk as a second load generator for the serving benchmark: a C event loop that costs far
// less CPU per request than an undici closed loop in Node, so on two shared cores more of the
// machine goes to the server being measured. POST bodies go through a Lua script; the generator's
// own CPU time is read from bash's `times` (its children's user+system seconds).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WrkResult {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** CPU seconds wrk spent (user + system), for its cost per request. */
  cpuSeconds: number;
  /** Non-2xx answers and socket errors (connect, read, write, timeout). */
  errors: number;
}

export interface WrkOptions {
  url: string;
  path: string;
  body: Buffer;
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
  /** wrk's threads (default 1: one core's worth of generator). */
  threads?: number;
  /** CPUs wrk may run on (`taskset -c`), e.g. '1'; unset: wherever the kernel puts it. */
  cpus?: string;
}

const LUA = `local f = assert(io.open(os.getenv("WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
for k, v in string.gmatch(os.getenv("WRK_HEADERS") or "", "([^\\n:]+):([^\\n]*)") do wrk.headers[k] = v end
`;

let scriptPath: string | undefined;

/** True when `wrk` is on the PATH (Debian package `wrk`). */
export async function haveWrk(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('wrk', ['--version'], { stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('exit', () => resolve(true));
  });
}

/** Runs wrk against one POST endpoint and parses its summary (`--latency` for the percentiles). */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  if (scriptPath === undefined) {
    scriptPath = join(tmpdir(), `slipway-bench-wrk-${process.pid}.lua`);
    await writeFile(scriptPath, LUA);
  }
  const bodyPath = join(tmpdir(), `slipway-bench-wrk-${process.pid}-body`);
  await writeFile(bodyPath, options.body);
  const headers = { 'content-type': 'application/json', ...options.headers };
  const wrk = [
    ...(options.cpus !== undefined ? ['taskset', '-c', options.cpus] : []),
    'wrk', '-t', String(options.threads ?? 1), '-c', String(options.connections), '-d', `${options.seconds}s`,
    // A slow answer on a loaded machine is a latency, not an error: wrk's default 2 s timeout would count it as one.
    '--latency', '--timeout', '30s', '-s', scriptPath, `${options.url}${options.path}`,
  ];
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('bash', ['-c', `"$@"; echo "@@times"; times`, 'bash', ...wrk], {
      env: { ...process.env, WRK_BODY: bodyPath, WRK_HEADERS: Object.entries(headers).map(([k, v]) => `${k}:${v}`).join('\n') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}: ${text}`))));
  });
  return parseWrk(out);
}

/** wrk's summary (and bash's `times` after `@@times`) as numbers. */
export function parseWrk(out: string): WrkResult {
  const [summary = '', times = ''] = out.split('@@times');
  const number = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(summary);
    if (m === null) throw new Error(`wrk's output has no ${what}:\n${summary}`);
    return m;
  };
  const ms = (value: string, unit: string) => Number(value) * (unit === 'us' ? 1e-3 : unit === 's' ? 1e3 : unit === 'm' ? 6e4 : 1);
  const p50 = number(/\s50%\s+([\d.]+)(us|ms|s|m)\b/, 'p50');
  const p99 = number(/\s99%\s+([\d.]+)(us|ms|s|m)\b/, 'p99');
  const requests = Number(number(/(\d+) requests in/, 'request count')[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(summary)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(summary);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  // `times` prints the shell's own times, then its children's: "0m1.234s 0m0.567s".
  const childTimes = times.trim().split('\n').at(-1) ?? '';
  const cpuSeconds = [...childTimes.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
  return {
    perSecond: Number(number(/Requests\/sec:\s+([\d.]+)/, 'Requests/sec')[1]),
    p50Ms: ms(p50[1]!, p50[2]!),
    p99Ms: ms(p99[1]!, p99[2]!),
    requests,
    cpuSeconds,
    errors: non2xx + socketErrors,
  };
}
