/**
 * Soak at half capacity: RSS sampled every 10 s (slope by least squares, MB per hour) and the
 * server's error-level log lines counted. Not run in CI.
 *
 *   npm run bench:abuse -- soak [--minutes 60] [serve options…]
 */
import { Agent } from 'node:http';
import { closedLoop, DIGITS_BODY, EXAMPLES, mb, ms, send, sleep, startAbuseServer, summary, takeOption } from './abuse-server.js';

export async function runSoak(args: string[], log: (line: string) => void = console.log): Promise<void> {
  const minutes = takeOption(args, '--minutes', 60);
  const server = await startAbuseServer([`${EXAMPLES}/digits`, ...args]);
  const infer = `${server.url}/v2/models/digits/infer`;
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    let count = 0;
    let stop = performance.now() + 5000;
    await closedLoop(8, () => send(infer, { method: 'POST', body: DIGITS_BODY, agent }), () => count++, () => performance.now() > stop);
    const capacity = count / 5;
    const rate = capacity / 2;
    log(`capacity ${capacity.toFixed(0)} req/s; soaking at ${rate.toFixed(0)} req/s for ${minutes} min`);
    const samples: Array<[number, number]> = [];
    const times: number[] = [];
    let failed = 0;
    const started = performance.now();
    stop = started + minutes * 60_000;
    const sampler = (async () => {
      while (performance.now() < stop) {
        samples.push([(performance.now() - started) / 3_600_000, await server.rssBytes()]);
        await sleep(10_000);
      }
    })();
    // Open loop: one request every 1/rate s, whatever the answers do.
    let sent = 0;
    const inflight = new Set<Promise<void>>();
    while (performance.now() < stop) {
      const due = started + (sent / rate) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      sent++;
      const p = send(infer, { method: 'POST', body: DIGITS_BODY, agent }).then(
        (a) => void (a.status === 200 ? times.push(a.ms) : failed++),
        () => void failed++,
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await Promise.all(inflight);
    await sampler;
    agent.destroy();
    const n = samples.length;
    const mx = samples.reduce((a, [x]) => a + x, 0) / n;
    const my = samples.reduce((a, [, y]) => a + y, 0) / n;
    const slope = samples.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / samples.reduce((a, [x]) => a + (x - mx) ** 2, 0);
    const latency = summary(times);
    const errorLines = server.output().split('\n').filter((line) => /"level":(50|60)/.test(line)).length;
    log(`${sent} requests, ${failed} failed, p50 ${ms(latency.p50)}, p99 ${ms(latency.p99)}; RSS ${mb(samples[0]![1])} → ${mb(samples[n - 1]![1])}, slope ${(slope / (1024 * 1024)).toFixed(1)} MB/hour over ${n} samples; ${errorLines} error-level log lines`);
  } finally {
    await server.stop();
  }
}
