import { useEffect, useState } from 'preact/hooks';
import type { PendingRun } from './run-queue.js';

/** A call still on its way: what it sends, how long it has run, how much is uploaded, and a Cancel button. */
export function PendingCard({ pending, onCancel }: { pending: PendingRun; onCancel: () => void }) {
  const [now, setNow] = useState(performance.now());
  useEffect(() => {
    if (pending.state !== 'running') return;
    const timer = setInterval(() => setNow(performance.now()), 100);
    return () => clearInterval(timer);
  }, [pending.state]);
  const { job } = pending;
  const elapsed = pending.startedAt === undefined ? 0 : now - pending.startedAt;
  const uploading = pending.uploaded !== undefined && pending.uploaded < 1;
  return (
    <article class="result pending" aria-label={`Call #${job.id}: ${pending.state === "queued" ? "waiting its turn" : "running"}`} aria-busy="true">
      <header class="result-head">
        <span class="result-title">
          {job.thumbnail !== undefined && <img class="input-thumb" src={job.thumbnail} alt="" />}#{job.id}
          <span class="muted"> · {job.example !== undefined ? `example ${job.example}` : job.source}</span>
        </span>
        <span class="latency">{pending.state === 'queued' ? 'queued' : <strong class="elapsed">{`${(elapsed / 1000).toFixed(1)} s`}</strong>}</span>
      </header>
      <div class="row">
        {pending.state === 'running' && (
          <span class="muted" role="status">
            {uploading ? `Uploading ${Math.round(pending.uploaded! * 100)}%` : 'Waiting for the model…'}
          </span>
        )}
        {uploading && <progress max={1} value={pending.uploaded} aria-label="Upload" />}
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </article>
  );
}
