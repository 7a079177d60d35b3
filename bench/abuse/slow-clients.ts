/**
 * Slow clients: N connections that trickle (half send headers a byte at a time, half send headers
 * and then a body a byte every 5 s), while 8 ordinary clients are measured against an unloaded run.
 * Raise the open-files limit first (the npm script does: ulimit -n).
 *
 *   npm run bench:abuse -- slow-clients [--connections 10000] [--seconds 90] [serve options…, e.g. --request-timeout 60s]
 */
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { closedLoop, DIGITS_BODY, EXAMPLES, ms, send, sleep, startAbuseServer, summary, takeOption } from './abuse-server.js';

export async function runSlowClients(args: string[], log: (line: string) => void = console.log): Promise<void> {
  const connections = takeOption(args, '--connections', 10_000);
  const seconds = takeOption(args, '--seconds', 90);
  const server = await startAbuseServer([`${EXAMPLES}/digits`, ...args]);
  const { port } = new URL(server.url);
  const infer = `${server.url}/v2/models/digits/infer`;
  const measure = async (durationMs: number): Promise<ReturnType<typeof summary> & { errors: number }> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const times: number[] = [];
    let errors = 0;
    const stop = performance.now() + durationMs;
    await closedLoop(8, () => send(infer, { method: 'POST', body: DIGITS_BODY, agent }), (a) => (a instanceof Error || a.status !== 200 ? errors++ : times.push(a.ms)), () => performance.now() > stop);
    agent.destroy();
    return { ...summary(times), errors };
  };
  try {
    const unloaded = await measure(5000);
    log(`unloaded: 8 clients, ${unloaded.n} requests, p50 ${ms(unloaded.p50)}, p99 ${ms(unloaded.p99)}`);
    const sockets: Array<{ socket: Socket; kind: 'headers' | 'body'; opened: number; closedAfterMs?: number; status?: string }> = [];
    let refusedAtConnect = 0;
    for (let i = 0; i < connections; i++) {
      const kind = i % 2 === 0 ? 'headers' : 'body';
      const socket = connect(Number(port), '127.0.0.1');
      const entry: (typeof sockets)[number] = { socket, kind, opened: performance.now() };
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => (entry.status ??= chunk.toString('latin1', 0, 12)));
      socket.once('close', () => (entry.closedAfterMs = performance.now() - entry.opened));
      socket.once('connect', () => {
        if (kind === 'headers') socket.write('POST /v2/models/digits/infer HTTP/1.1\r\nhost: x\r\n');
        else socket.write('POST /v2/models/digits/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
      });
      sockets.push(entry);
      // Opened in batches: the accept queue is not what is measured.
      if (i % 500 === 499) await sleep(50);
    }
    const trickle = setInterval(() => {
      for (const { socket, kind, closedAfterMs } of sockets) if (closedAfterMs === undefined && !socket.destroyed) socket.write(kind === 'body' ? ' ' : 'x');
    }, 5000);
    await sleep(2000);
    const open = sockets.filter((s) => s.closedAfterMs === undefined).length;
    log(`${connections} slow connections opened, ${open} still open after 2 s`);
    const loaded = await measure(Math.max(5000, seconds * 1000 - 2000));
    clearInterval(trickle);
    for (const kind of ['headers', 'body'] as const) {
      const mine = sockets.filter((s) => s.kind === kind);
      const cut = mine.filter((s) => s.closedAfterMs !== undefined);
      const times = summary(cut.map((s) => s.closedAfterMs!));
      const statuses: Record<string, number> = {};
      for (const s of cut) statuses[s.status ?? '(none)'] = (statuses[s.status ?? '(none)'] ?? 0) + 1;
      log(`slow ${kind}: ${cut.length}/${mine.length} cut by the server, after p50 ${ms(times.p50)}, max ${ms(times.max)}; first bytes of the answers ${JSON.stringify(statuses)}`);
      refusedAtConnect += mine.filter((s) => s.closedAfterMs !== undefined && s.closedAfterMs < 1000).length;
    }
    log(`others while slow clients held their sockets: ${loaded.n} requests, ${loaded.errors} failed, p50 ${ms(loaded.p50)}, p99 ${ms(loaded.p99)} (${(loaded.p99 / unloaded.p99).toFixed(2)}× unloaded p99); ${refusedAtConnect} slow connections closed within 1 s (connection limit)`);
    for (const { socket } of sockets) socket.destroy();
  } finally {
    await server.stop();
  }
}
