/**
 * 60 MB requests: 10 in a row, then 4 at once, against a fresh server; prints its RSS at the start,
 * at its peak and after each phase (the target: back within 10 % of the start).
 *
 *   npm run bench:abuse -- large-bodies [--glibc-default] [serve options…, e.g. --max-inflight-bytes 0]
 */
import { MB, mb, rssOf, sleep, startAbuseServer, TEST_MODELS } from './abuse-server.js';

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

export async function runLargeBodies(extraArgs: string[] = [], log: (line: string) => void = console.log): Promise<LargeBodiesResult> {
  // As the image runs it (containerfile.ts sets this), unless asked for glibc's default.
  const glibcDefault = extraArgs.includes('--glibc-default');
  const args = extraArgs.filter((a) => a !== '--glibc-default');
  const server = await startAbuseServer([`${TEST_MODELS}/identity_fp32`, ...args], glibcDefault ? {} : { MALLOC_MMAP_THRESHOLD_: '1048576' });
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
