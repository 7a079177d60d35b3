// One closed-loop measurement of an in-process call, shared by the benchmarks that compare two ways of
// making the same call (a graph against its steps called directly, a handler step against the handler).

/** What one measurement found: calls per second, mean latency, and process CPU time per call. */
export interface CallMeasurement {
  perSecond: number;
  meanUs: number;
  cpuUs: number;
}

/**
 * Closed loop: `clients` callers, each starting its next call when the last one answered, after 200
 * warm-up calls (JIT, worker caches).
 *
 * @example
 * const { perSecond, cpuUs } = await measureCalls(() => slipway.infer(request), 8, 3);
 */
export async function measureCalls(call: () => Promise<unknown>, clients: number, seconds: number): Promise<CallMeasurement> {
  for (let i = 0; i < 200; i++) await call();
  let done = 0;
  let busyMs = 0;
  // CPU time of the whole process (main thread and workers) per call: what a graph or a handler step
  // adds shows here even when other processes share the cores and blur the wall-clock figures.
  const cpu = process.cpuUsage();
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const start = performance.now();
        await call();
        busyMs += performance.now() - start;
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { perSecond: done / seconds, meanUs: (busyMs / done) * 1000, cpuUs: (used.user + used.system) / done };
}

/** The middle value (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

/**
 * Two ways of making the same call (`a`, `b`), measured in `rounds` alternating rounds so both see the
 * same machine; each figure is the median over the rounds.
 *
 * @example
 * const { a: graph, b: direct } = await measureAlternating(() => viaGraph(), () => direct(), 8, 3, 3);
 */
export async function measureAlternating(
  a: () => Promise<unknown>,
  b: () => Promise<unknown>,
  clients: number,
  seconds: number,
  rounds: number,
): Promise<{ a: CallMeasurement; b: CallMeasurement }> {
  const aRuns: CallMeasurement[] = [];
  const bRuns: CallMeasurement[] = [];
  for (let round = 0; round < rounds; round++) {
    aRuns.push(await measureCalls(a, clients, seconds));
    bRuns.push(await measureCalls(b, clients, seconds));
  }
  const pick = (runs: CallMeasurement[]): CallMeasurement => ({
    perSecond: median(runs.map((r) => r.perSecond)),
    meanUs: median(runs.map((r) => r.meanUs)),
    cpuUs: median(runs.map((r) => r.cpuUs)),
  });
  return { a: pick(aRuns), b: pick(bRuns) };
}
