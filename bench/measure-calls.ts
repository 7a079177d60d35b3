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
