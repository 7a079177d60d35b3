import { useEffect, useRef, useState } from 'preact/hooks';
import type { Run, RunJob } from './run.js';

export interface PendingRun {
  job: RunJob;
  state: 'queued' | 'running';
  startedAt?: number;
  /** Share of the upload sent, when the browser says. */
  uploaded?: number;
}

/**
 * Calls run one after another, in the order they were asked for: a click on an example while a
 * call runs queues behind it instead of being refused. Each can be cancelled, queued or running.
 */
export function useRunQueue(onDone: (run: Run) => void): { pending: PendingRun[]; enqueue: (job: RunJob) => void; cancel: (id: number) => void } {
  const [pending, setPending] = useState<PendingRun[]>([]);
  const queue = useRef<RunJob[]>([]);
  const running = useRef<{ id: number; controller: AbortController } | undefined>(undefined);
  const done = useRef(onDone);
  done.current = onDone;
  const alive = useRef(true);
  useEffect(
    () => () => {
      alive.current = false;
      running.current?.controller.abort();
    },
    [],
  );

  const update = (id: number, change: Partial<PendingRun>) => setPending((list) => list.map((p) => (p.job.id === id ? { ...p, ...change } : p)));

  const next = () => {
    if (running.current !== undefined) return;
    const job = queue.current.shift();
    if (job === undefined) return;
    const controller = new AbortController();
    running.current = { id: job.id, controller };
    update(job.id, { state: 'running', startedAt: performance.now() });
    job
      .execute(controller.signal, (uploaded) => update(job.id, { uploaded }))
      .then(
        (run) => alive.current && done.current(run),
        () => undefined, // cancelled: its card just goes
      )
      .finally(() => {
        running.current = undefined;
        if (!alive.current) return;
        setPending((list) => list.filter((p) => p.job.id !== job.id));
        next();
      });
  };

  const enqueue = (job: RunJob) => {
    queue.current.push(job);
    setPending((list) => [...list, { job, state: 'queued' }]);
    next();
  };

  const cancel = (id: number) => {
    if (running.current?.id === id) {
      running.current.controller.abort();
      return;
    }
    queue.current = queue.current.filter((j) => j.id !== id);
    setPending((list) => list.filter((p) => p.job.id !== id));
  };

  return { pending, enqueue, cancel };
}
