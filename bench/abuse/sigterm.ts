/**
 * SIGTERM under load: 32 keep-alive clients, then SIGTERM; counts answers, refusals once the
 * listener closed (expected: the pod is out of the endpoints by then) and requests lost to resets.
 *
 *   npm run bench:abuse -- sigterm [--clients 32] [serve options…, e.g. --drain-delay 2]
 */
import { Agent } from 'node:http';
import { DIGITS_BODY, EXAMPLES, send, sleep, startAbuseServer, takeOption } from './abuse-server.js';

export async function runSigterm(args: string[], log: (line: string) => void = console.log): Promise<void> {
  const clients = takeOption(args, '--clients', 32);
  const server = await startAbuseServer([`${EXAMPLES}/digits`, ...(args.includes('--drain-delay') ? [] : ['--drain-delay', '2']), ...args]);
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const infer = `${server.url}/v2/models/digits/infer`;
  let answered = 0;
  let afterSignal = 0;
  let refused = 0;
  const lost: Record<string, number> = {};
  let signalledAt: number | undefined;
  const loops = Array.from({ length: clients }, async () => {
    for (;;) {
      try {
        const answer = await send(infer, { method: 'POST', body: DIGITS_BODY, agent });
        if (answer.status !== 200) lost[`status ${answer.status}`] = (lost[`status ${answer.status}`] ?? 0) + 1;
        answered++;
        if (signalledAt !== undefined) afterSignal++;
      } catch (error) {
        const reused = (error as { reusedSocket?: boolean }).reusedSocket === true;
        const code = `${(error as NodeJS.ErrnoException).code ?? (error as Error).message} on a ${reused ? 'kept-alive' : 'new'} connection`;
        if (code.startsWith('ECONNREFUSED') && signalledAt !== undefined) {
          refused++;
          return;
        }
        lost[code] = (lost[code] ?? 0) + 1;
        // A new connection reset once the listener closes was still in its accept queue: that client stops too.
        if (signalledAt === undefined || !reused) return;
      }
    }
  });
  await sleep(3000);
  const exited = new Promise<number | null>((resolve) => server.child.once('exit', (code) => resolve(code)));
  signalledAt = performance.now();
  server.child.kill('SIGTERM');
  await Promise.all(loops);
  const code = await exited;
  log(`${clients} clients: ${answered} answered (${afterSignal} after SIGTERM, during the drain), ${refused} clients refused once the listener closed, lost ${JSON.stringify(lost)}; exit code ${code} ${((performance.now() - signalledAt) / 1000).toFixed(1)} s after SIGTERM`);
  agent.destroy();
}
