/**
 * Overload at several times capacity: many clients on keep-alive connections, while a prober opens
 * a fresh connection for `/v2/health/live` every 100 ms on the serving port and on the health port.
 *
 *   npm run bench:abuse -- overload [--seconds 60] [--clients 512] [--queue 64] [--ignore-retry-after 1] [serve options…]
 *
 * Clients wait the Retry-After of a 429 before their next request, as a client library should
 * (`--ignore-retry-after 1`: they retry at once, a flood whose refusals alone fill the event loop).
 *
 * The digits model is served from a copy whose max_queue_size is `--queue` (0: the model's default,
 * 1024): clients beyond the queue are shed with 429, and the queue bounds the admitted latency.
 */
import { Agent } from 'node:http';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedLoop, cpuMsOf, DIGITS_BODY, EXAMPLES, healthUrlOf, mb, ms, rssOf, send, sleep, startAbuseServer, summary, takeOption, type Answer } from './abuse-server.js';

export async function runOverload(args: string[], log: (line: string) => void = console.log): Promise<void> {
  const seconds = takeOption(args, '--seconds', 60);
  const clients = takeOption(args, '--clients', 512);
  const queue = takeOption(args, '--queue', 64);
  const ignoreRetryAfter = takeOption(args, '--ignore-retry-after', 0) === 1;
  const repository = await mkdtemp(join(tmpdir(), 'slipway-overload-'));
  await mkdir(join(repository, 'digits', '1'), { recursive: true });
  await copyFile(`${EXAMPLES}/digits/1/model.onnx`, join(repository, 'digits', '1', 'model.onnx'));
  await writeFile(join(repository, 'digits', 'config.yaml'), queue > 0 ? `dynamic_batching:\n  max_queue_size: ${queue}\n` : '');
  const server = await startAbuseServer([join(repository, 'digits'), '--health-port', '0', ...args]);
  log(`digits with max_queue_size ${queue > 0 ? queue : 'default (1024)'}, ${clients} clients ${ignoreRetryAfter ? 'retrying at once' : 'honouring Retry-After'}`);
  const health = healthUrlOf(server);
  const infer = `${server.url}/v2/models/digits/infer`;
  try {
    // Unloaded: 4 clients, the latency every admitted request is compared with.
    const calm = new Agent({ keepAlive: true, maxSockets: 4 });
    const calmTimes: number[] = [];
    let stop = performance.now() + 5000;
    const calmCpuMs = await cpuMsOf(server.pid);
    await closedLoop(4, () => send(infer, { method: 'POST', body: DIGITS_BODY, agent: calm }), (a) => a instanceof Error || (a.status === 200 && calmTimes.push(a.ms)), () => performance.now() > stop);
    const unloaded = summary(calmTimes);
    // Server CPU per answered request when nothing is refused: the cost a refusal is compared with.
    const cpuPerAdmittedMs = ((await cpuMsOf(server.pid)) - calmCpuMs) / Math.max(1, calmTimes.length);
    const capacity = unloaded.n / 5;
    log(`unloaded: ${capacity.toFixed(0)} req/s with 4 clients, p50 ${ms(unloaded.p50)}, p99 ${ms(unloaded.p99)}`);
    calm.destroy();

    const startRss = await server.rssBytes();
    let peakRss = startRss;
    const agent = new Agent({ keepAlive: true, maxSockets: clients });
    const admitted: number[] = [];
    const admittedQueueMs: number[] = [];
    const statuses: Record<string, number> = {};
    let withRetryAfter = 0;
    let errors = 0;
    stop = performance.now() + seconds * 1000;
    const record = (a: Answer | Error): void => {
      if (a instanceof Error) {
        errors++;
        return;
      }
      statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      if (a.status === 200) {
        admitted.push(a.ms);
        if (a.queueMs !== undefined) admittedQueueMs.push(a.queueMs);
      }
      else if (a.retryAfter !== undefined) withRetryAfter++;
    };
    const probes: Record<string, number[]> = { serving: [], health: [] };
    let probeFailures = 0;
    const prober = (async () => {
      while (performance.now() < stop) {
        const targets: Array<[string, string | undefined]> = [['serving', server.url], ['health', health]];
        for (const [name, base] of targets) {
          if (base === undefined) continue;
          const answer = await send(`${base}/v2/health/live`, { agent: false }).catch(() => undefined);
          if (answer?.status === 200) probes[name]!.push(answer.ms);
          else probeFailures++;
        }
        peakRss = Math.max(peakRss, await rssOf(server.pid));
        await sleep(100);
      }
    })();
    const started = performance.now();
    const loadCpuMs = await cpuMsOf(server.pid);
    const politely = async (): Promise<Answer> => {
      const answer = await send(infer, { method: 'POST', body: DIGITS_BODY, agent });
      if (!ignoreRetryAfter && answer.status === 429 && answer.retryAfter !== undefined) await sleep(Number(answer.retryAfter) * 1000);
      return answer;
    };
    await closedLoop(clients, politely, record, () => performance.now() > stop);
    const cpuMs = (await cpuMsOf(server.pid)) - loadCpuMs;
    await prober;
    const elapsed = (performance.now() - started) / 1000;
    agent.destroy();
    const total = Object.values(statuses).reduce((a, b) => a + b, 0);
    const load = summary(admitted);
    const refused = total - admitted.length;
    log(`overload: ${clients} clients for ${seconds} s: ${(total / elapsed).toFixed(0)} answers/s offered to a ${capacity.toFixed(0)} req/s server; statuses ${JSON.stringify(statuses)}, ${withRetryAfter}/${refused} refusals with Retry-After, ${errors} connection errors`);
    log(`admitted: ${(admitted.length / elapsed).toFixed(0)} req/s, p50 ${ms(load.p50)}, p99 ${ms(load.p99)} (${(load.p99 / unloaded.p99).toFixed(2)}× unloaded p99)`);
    const queue = summary(admittedQueueMs);
    log(`admitted, queue time the server reported (Server-Timing): p50 ${ms(queue.p50)}, p99 ${ms(queue.p99)}, max ${ms(queue.max)}`);
    // Server CPU per answer, admitted or refused: with refusals cheap, more refusals make it smaller, not larger.
    log(`server CPU: ${(cpuMs / elapsed / 10).toFixed(0)} % of a core; ${(cpuPerAdmittedMs * 1000).toFixed(0)} µs per request unloaded (4 clients), ${((cpuMs / Math.max(1, total)) * 1000).toFixed(0)} µs per answer under load`);
    for (const [name, times] of Object.entries(probes)) {
      if (times.length === 0) continue;
      const s = summary(times);
      log(`liveness on fresh connections, ${name} port: ${s.n} probes, p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, max ${ms(s.max)}`);
    }
    log(`probe failures: ${probeFailures}; RSS ${mb(startRss)} at the start, peak ${mb(peakRss)}`);
  } finally {
    await server.stop();
    await rm(repository, { recursive: true, force: true });
  }
}
