/**
 * Soak at half capacity: RSS sampled every 10 s (slope by least squares, MB per hour, after a warm-up
 * in which allocators and JIT settle) and the server's error-level log lines counted. Not run in CI.
 * `--rate` fixes the request rate instead (on a shared machine, half of a capacity measured in 5 s is
 * not what the server can sustain for an hour); `--samples FILE` writes the RSS samples as CSV.
 *
 *   npm run bench:abuse -- soak [--minutes 60] [--warmup-minutes 5] [--rate R] [--samples FILE] [serve options…]
 */
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { closedLoop, DIGITS_BODY, EXAMPLES, mb, ms, send, sleep, startAbuseServer, summary, takeOption } from './abuse-server.js';

/** Requests the soak lets wait for an answer before it skips its next slots. */
const MAX_BACKLOG = 256;

export async function runSoak(args: string[], log: (line: string) => void = console.log): Promise<void> {
  const minutes = takeOption(args, '--minutes', 60);
  const warmupHours = takeOption(args, '--warmup-minutes', 5) / 60;
  const fixedRate = takeOption(args, '--rate', 0);
  const samplesIndex = args.indexOf('--samples');
  const samplesFile = samplesIndex < 0 ? undefined : args.splice(samplesIndex, 2)[1];
  const server = await startAbuseServer([`${EXAMPLES}/digits`, ...args]);
  const infer = `${server.url}/v2/models/digits/infer`;
  try {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    let count = 0;
    let stop = performance.now() + 5000;
    await closedLoop(8, () => send(infer, { method: 'POST', body: DIGITS_BODY, agent }), () => count++, () => performance.now() > stop);
    const capacity = count / 5;
    const rate = fixedRate > 0 ? fixedRate : capacity / 2;
    log(`capacity ${capacity.toFixed(0)} req/s; soaking at ${rate.toFixed(0)} req/s (${(rate / capacity).toFixed(2)} of it) for ${minutes} min`);
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
    // Open loop: one request every 1/rate s, whatever the answers do; but when the server falls that
    // far behind (a shared machine), a slot is skipped rather than queued in this process without bound.
    let sent = 0;
    let skipped = 0;
    const inflight = new Set<Promise<void>>();
    for (let slot = 0; performance.now() < stop; slot++) {
      const due = started + (slot / rate) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (inflight.size >= MAX_BACKLOG) {
        skipped++;
        continue;
      }
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
    if (samplesFile !== undefined) await writeFile(samplesFile, `hours,rss_bytes\n${samples.map(([x, y]) => `${x.toFixed(5)},${y}`).join('\n')}\n`);
    const n = samples.length;
    // The first minutes are allocators and the JIT settling, not a leak: the slope is fitted after them
    // (over every sample when the run is too short to have any after).
    const settled = samples.filter(([x]) => x >= warmupHours);
    const slope = leastSquaresSlope(settled.length >= 2 ? settled : samples);
    const latency = summary(times);
    const errorLines = server.output().split('\n').filter((line) => /"level":(50|60)/.test(line)).length;
    log(`${sent} requests (${(sent / (minutes * 60)).toFixed(0)}/s; ${skipped} slots skipped with ${MAX_BACKLOG} already waiting), ${failed} failed, p50 ${ms(latency.p50)}, p99 ${ms(latency.p99)}; RSS ${mb(samples[0]![1])} → ${mb(samples[n - 1]![1])}, peak ${mb(Math.max(...samples.map(([, y]) => y)))}, slope ${(slope / (1024 * 1024)).toFixed(1)} MB/hour over ${settled.length >= 2 ? settled.length : n} samples after the warm-up; ${errorLines} error-level log lines`);
  } finally {
    await server.stop();
  }
}

/** Least-squares slope of y over x. */
function leastSquaresSlope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  return points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
}
