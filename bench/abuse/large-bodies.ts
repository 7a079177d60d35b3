/**
 * 60 MB requests: 10 in a row, then 4 at once, against a fresh server each run; prints its RSS at the
 * start, at its peak and after each phase, and how many runs met the target (back within
 * 10 % of the start). The server runs with the image's glibc settings (IMAGE_MALLOC_ENV) unless asked
 * for glibc's default, or for one variable set by hand (`--malloc NAME=VALUE`, repeatable, instead).
 *
 *   npm run bench:abuse -- large-bodies [--runs 3] [--glibc-default] [--malloc NAME=VALUE]… [serve options…]
 */
import { IMAGE_MALLOC_ENV } from '../../src/deploy/containerfile.js';
import { MB, mb, rssOf, sleep, startAbuseServer, takeOption, TEST_MODELS } from './abuse-server.js';

export interface LargeBodiesResult {
  bodyBytes: number;
  startRss: number;
  peakInRow: number;
  afterInRow: number;
  peakAtOnce: number;
  afterAtOnce: number;
  statuses: Record<string, number>;
}

/** A JSON OIP request of about `bytes` bytes: FP32 values written with six decimals, as a client would. */
export function largeBody(bytes: number): Buffer {
  const perElement = 9; // "0.123456,"
  // Few rows: within any max_batch_size.
  const rows = 16;
  const columns = Math.max(1, Math.floor(bytes / perElement / rows));
  const values: string[] = [];
  for (let i = 0; i < rows * columns; i++) values.push((((i * 7919) % 1_000_000) / 1_000_000).toFixed(6));
  return Buffer.from(`{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[${rows},${columns}],"data":[${values.join(',')}]}]}`);
}

/** The target of issue 18: RSS back within this fraction over its start after each phase. */
export const TARGET_FRACTION = 0.1;

/** Runs `--runs` fresh servers one after another and says in how many both phases met the target. */
export async function runLargeBodies(extraArgs: string[] = [], log: (line: string) => void = console.log): Promise<LargeBodiesResult[]> {
  const args = [...extraArgs];
  const runs = takeOption(args, '--runs', 3);
  let env: Record<string, string> = { ...IMAGE_MALLOC_ENV };
  if (args.includes('--glibc-default')) env = {};
  const serveArgs: string[] = [];
  const chosen: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--glibc-default') continue;
    if (args[i] === '--malloc') {
      const [name, value] = (args[++i] ?? '').split('=');
      if (name === undefined || value === undefined) throw new Error('--malloc takes NAME=VALUE');
      chosen[name] = value;
    } else serveArgs.push(args[i]!);
  }
  if (Object.keys(chosen).length > 0) env = chosen;
  log(`glibc environment: ${JSON.stringify(env)}`);
  const results: LargeBodiesResult[] = [];
  for (let run = 1; run <= runs; run++) {
    log(`run ${run} of ${runs}`);
    results.push(await largeBodiesOnce(serveArgs, env, log));
  }
  const within = (after: number, start: number): boolean => after <= start * (1 + TARGET_FRACTION);
  const met = results.filter((r) => within(r.afterInRow, r.startRss) && within(r.afterAtOnce, r.startRss)).length;
  const pct = (after: number, start: number): string => `${(((after - start) / start) * 100).toFixed(1)} %`;
  log(`after 10 in a row: ${results.map((r) => pct(r.afterInRow, r.startRss)).join(', ')}; after 4 at once: ${results.map((r) => pct(r.afterAtOnce, r.startRss)).join(', ')}`);
  log(`target (both phases within ${TARGET_FRACTION * 100} % of the start) met in ${met} of ${runs} runs`);
  return results;
}

async function largeBodiesOnce(args: string[], env: Record<string, string>, log: (line: string) => void): Promise<LargeBodiesResult> {
  const server = await startAbuseServer([`${TEST_MODELS}/identity_fp32`, ...args], env);
  const statuses: Record<string, number> = {};
  try {
    const url = `${server.url}/v2/models/identity_fp32/infer`;
    const small = largeBody(64 * 1024);
    // Warm: the instance, the codec threads and the JIT, with small requests.
    for (let i = 0; i < 5; i++) await (await fetch(url, { method: 'POST', body: small })).arrayBuffer();
    await sleep(2000);
    const startRss = await server.rssBytes();
    const body = largeBody(60 * MB);
    log(`body ${mb(body.length)}; start RSS ${mb(startRss)}`);
    let peak = startRss;
    const sampler = setInterval(() => void rssOf(server.pid).then((rss) => (peak = Math.max(peak, rss)), () => undefined), 50);
    const send = async (): Promise<void> => {
      try {
        const reply = await fetch(url, { method: 'POST', body });
        await reply.arrayBuffer();
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
      } catch (error) {
        const code = (error as { cause?: { code?: string } }).cause?.code ?? 'failed';
        statuses[code] = (statuses[code] ?? 0) + 1;
      }
    };
    for (let i = 0; i < 10; i++) await send();
    const peakInRow = peak;
    await sleep(5000);
    const afterInRow = await server.rssBytes();
    log(`10 in a row: peak ${mb(peakInRow)}, after ${mb(afterInRow)} (${(((afterInRow - startRss) / startRss) * 100).toFixed(1)} % over the start)`);
    peak = afterInRow;
    await Promise.all([send(), send(), send(), send()]);
    const peakAtOnce = peak;
    await sleep(5000);
    clearInterval(sampler);
    const afterAtOnce = await server.rssBytes();
    log(`4 at once: peak ${mb(peakAtOnce)}, after ${mb(afterAtOnce)} (${(((afterAtOnce - startRss) / startRss) * 100).toFixed(1)} % over the start); statuses ${JSON.stringify(statuses)}`);
    return { bodyBytes: body.length, startRss, peakInRow, afterInRow, peakAtOnce, afterAtOnce, statuses };
  } finally {
    await server.stop();
  }
}
