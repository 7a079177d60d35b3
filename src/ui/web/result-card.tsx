import type { InferResponse, ServerTiming } from './api.js';
import { FlagForm } from './flag-form.js';
import { formatMs } from './format.js';
import { HandlerOutput } from './handler-output.js';
import { JsonView } from './json-view.js';
import type { Run } from './run.js';
import { TensorOutputs } from './tensor-outputs.js';

function serverTime(timings: ServerTiming[]): string {
  return timings
    .filter((t) => t.durationMs !== undefined)
    .map((t) => `${t.name} ${formatMs(t.durationMs!)}`)
    .join(', ');
}

const STATUS_HINT: Record<number, string> = {
  400: 'the input was refused',
  401: 'the server needs an API key',
  403: 'the key does not open this',
  404: 'not found',
  413: 'too large',
  429: 'the model is busy: try again',
  500: 'the model failed',
  503: 'the model is not ready',
  504: 'it took too long',
};

/** One result: what came back, how long it took, the raw JSON on demand, and the flag control. */
export function ResultCard({ run, latest }: { run: Run; latest: boolean }) {
  const server = serverTime(run.serverTiming);
  return (
    <article class={`result${run.error !== undefined ? ' failed' : ''}${latest ? ' latest' : ''}`} aria-label={`Result ${run.id}`}>
      <header class="result-head">
        <span class="result-title">
          {run.images[0] !== undefined && <img class="input-thumb" src={run.images[0]} alt={`Sent: ${run.source}`} />}#{run.id}
          <span class="muted"> · {run.example !== undefined ? `example ${run.example}` : run.source}</span>
        </span>
        <span class="latency" title="Round trip measured in the browser; server time from its Server-Timing header">
          <strong>{formatMs(run.latencyMs)}</strong>
          {server !== '' && <span class="muted"> · server: {server}</span>}
        </span>
      </header>
      {run.error !== undefined ? (
        <div class="error" role="alert">
          <strong>
            {run.error.status === 0 ? 'No answer' : `${run.error.status}${STATUS_HINT[run.error.status] ? `: ${STATUS_HINT[run.error.status]}` : ''}`}
          </strong>
          <p class="error-message">{run.error.message}</p>
        </div>
      ) : run.api === 'predict' ? (
        <HandlerOutput value={run.output} schema={run.outputSchema} images={run.images} />
      ) : (
        <TensorOutputs outputs={(run.output as InferResponse).outputs} />
      )}
      <JsonView value={{ request: run.input, ...(run.error === undefined ? { response: run.output } : { error: run.error }) }} name={`${run.model}-${run.id}.json`} />
      {run.error === undefined && <FlagForm run={run} />}
    </article>
  );
}
