import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getJson, modelPath, oipPath, type ModelDescription, type ModelExample, type ModelMetadata } from './api.js';
import { DeviceSwitch, isBundled } from './device-switch.js';
import { HandlerForm } from './handler-form.js';
import { kindLabel } from './model-list.js';
import { ApiPanel } from './api-panel.js';
import { OptimizeReports } from './optimize-reports.js';
import { PendingCard } from './pending-card.js';
import { ResultCard } from './result-card.js';
import { Link, navigate } from './router.js';
import { RolloutPanel } from './rollout-panel.js';
import { runIdsAbove, type Run } from './run.js';
import { useRunQueue } from './run-queue.js';
import { loadRuns, saveRuns } from './run-store.js';
import { StateBadge } from './state-badge.js';
import { TensorForm } from './tensor-form.js';

/** Results kept on the page; older ones are dropped (and their picture URLs released). */
const KEEP_RESULTS = 8;

interface Loaded {
  description: ModelDescription;
  metadata?: ModelMetadata;
  metadataError?: string;
  examples: ModelExample[];
}

/** A model's page at a stable URL (/models/{name}): its form, generated from its signature, and its results. */
export function ModelPage({ name, view }: { name: string; view: string | undefined }) {
  const [loaded, setLoaded] = useState<Loaded | undefined>(undefined);
  const [error, setError] = useState<{ status: number; message: string } | undefined>(undefined);
  const [runs, setRuns] = useState<Run[]>([]);
  const results = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const description = await getJson<ModelDescription>(modelPath(name));
        const [metadata, examples] = await Promise.all([
          description.versions.some((v) => v.state === 'READY')
            ? getJson<ModelMetadata>(oipPath(name)).then(
                (m) => ({ metadata: m }),
                (e: unknown) => ({ metadataError: e instanceof ApiError ? e.message : String(e) }),
              )
            : Promise.resolve({}),
          getJson<{ examples: ModelExample[] }>(`${modelPath(name)}/examples`).then(
            (r) => r.examples,
            () => [],
          ),
        ]);
        if (stopped) return;
        setLoaded({ description, examples, ...metadata });
        setError(undefined);
        if (description.state === 'LOADING' || description.handler?.state === 'LOADING') timer = setTimeout(load, 2000);
      } catch (e) {
        if (stopped) return;
        setError(e instanceof ApiError ? { status: e.status, message: e.message } : { status: 0, message: String(e) });
      }
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [name]);

  // Results kept in the browser come back: after a visit to /flags, or a reload.
  const kept = useRef<Run[]>([]);
  useEffect(() => {
    let stopped = false;
    void loadRuns(name).then((restored) => {
      if (stopped) {
        restored.forEach((r) => r.images.forEach((url) => URL.revokeObjectURL(url)));
        return;
      }
      runIdsAbove(Math.max(0, ...restored.map((r) => r.id)));
      setRuns((current) => {
        const next = [...current, ...restored.filter((r) => !current.some((c) => c.id === r.id))].slice(0, KEEP_RESULTS);
        kept.current = next;
        return next;
      });
    });
    return () => {
      stopped = true;
      kept.current.forEach((r) => r.images.forEach((url) => URL.revokeObjectURL(url)));
    };
  }, [name]);

  const keep = (next: Run[]) => {
    kept.current = next;
    setRuns(next);
    void saveRuns(name, next);
  };

  const addRun = (run: Run) => {
    const next = [run, ...kept.current];
    for (const dropped of next.slice(KEEP_RESULTS)) dropped.images.forEach((url) => URL.revokeObjectURL(url));
    keep(next.slice(0, KEEP_RESULTS));
    // On a phone the result is below the form: bring it into view.
    requestAnimationFrame(() => results.current?.scrollIntoView({ block: 'nearest', behavior: 'smooth' }));
  };
  const queue = useRunQueue(addRun);
  const clearResults = (api: Run['api']) => {
    kept.current.filter((r) => r.api === api).forEach((r) => r.images.forEach((url) => URL.revokeObjectURL(url)));
    keep(kept.current.filter((r) => r.api !== api));
  };

  if (error !== undefined) {
    return (
      <section>
        <h1 tabIndex={-1}>{name}</h1>
        <p role="alert" class="error">
          {error.status === 404 ? `There is no model named “${name}” on this server.` : `Could not load the model: ${error.message}`}
        </p>
        <p>
          <Link to="">See the models this server serves</Link>
        </p>
      </section>
    );
  }
  if (loaded === undefined) {
    return (
      <section>
        <h1 tabIndex={-1}>{name}</h1>
        <p aria-live="polite">Loading…</p>
      </section>
    );
  }

  const { description, metadata } = loaded;

  const handler = description.handler;
  const hasApp = handler?.state === 'READY' && handler.input_schema !== undefined;
  const hasGraph = metadata !== undefined;
  const mode = view === 'graph' && hasGraph ? 'graph' : hasApp ? 'app' : hasGraph ? 'graph' : undefined;
  const shownApi = mode === 'app' ? 'predict' : 'infer';
  const shown = runs.filter((r) => r.api === shownApi);
  const readyVersions = description.versions.filter((v) => v.state === 'READY').map((v) => v.version);
  const reasons = [description.reason, handler?.reason, ...description.versions.map((v) => v.reason)].filter((r): r is string => r !== undefined && r !== '');

  return (
    <section class="model-page">
      <div class="model-head">
        <h1 tabIndex={-1}>{name}</h1>
        <StateBadge state={description.state} />
      </div>
      {handler?.description !== undefined && <p class="lead">{handler.description}</p>}
      <p class="muted meta">
        {kindLabel({ kind: description.kind, handler: handler === null ? null : { state: handler.state, ...(handler.mode === 'tensor' && { mode: 'tensor' as const }) } })}
        {readyVersions.length > 0 && ` · version ${readyVersions.join(', ')}`}
        {hasGraph && ` · ${metadata.inputs.map((t) => `${t.name} ${t.datatype}[${t.shape.join(',')}]`).join(', ')} → ${metadata.outputs.map((t) => `${t.name} ${t.datatype}[${t.shape.join(',')}]`).join(', ')}`}
      </p>
      {mode !== undefined && <DeviceSwitch name={name} />}
      {/* The server's own state: not shown on a browser bundle's page, whose calls stay on the device. */}
      {description.kind === 'graph' && !isBundled(name) && <RolloutPanel model={name} />}
      {!isBundled(name) && <OptimizeReports name={name} />}
      {description.state !== 'READY' && reasons.length > 0 && (
        <p class="error" role="alert">
          {reasons.join('; ')}
        </p>
      )}
      {hasApp && hasGraph && (
        <nav class="tabs" aria-label="What to call">
          <button type="button" aria-pressed={mode === 'app'} onClick={() => navigate(`models/${encodeURIComponent(name)}`, { replace: true })}>
            App <span class="muted">(handler)</span>
          </button>
          <button type="button" aria-pressed={mode === 'graph'} onClick={() => navigate(`models/${encodeURIComponent(name)}?view=graph`, { replace: true })}>
            Graph <span class="muted">(OIP tensors)</span>
          </button>
        </nav>
      )}
      {mode === undefined ? (
        <p class="error">{loaded.metadataError ?? 'This model has nothing ready to call yet.'}</p>
      ) : (
        <div class="workbench">
          <div class="input-panel">
            {mode === 'app' ? (
              <HandlerForm key="app" model={description} examples={loaded.examples} enqueue={queue.enqueue} />
            ) : (
              <TensorForm key="graph" metadata={metadata!} examples={loaded.examples} enqueue={queue.enqueue} />
            )}
            <ApiPanel
              model={description}
              api={mode === 'app' ? 'predict' : 'infer'}
              {...(metadata !== undefined && { metadata })}
              {...(shown[0] !== undefined && { last: shown[0] })}
            />
          </div>
          <div class="results-panel" ref={results} aria-label="Results" role="region">
            <p class="visually-hidden" aria-live="polite">
              {runs[0] === undefined ? '' : runs[0].error !== undefined ? `Result ${runs[0].id} failed: ${runs[0].error.message}` : `Result ${runs[0].id} is ready, in ${Math.round(runs[0].latencyMs)} milliseconds.`}
            </p>
            {shown.length === 0 && queue.pending.length === 0 ? (
              <p class="muted placeholder">Results show here, newest first, each with what was sent, its latency and a flag control. They are kept in this browser.</p>
            ) : null}
            {[...queue.pending].reverse().map((p) => (
              <PendingCard key={`pending-${p.job.id}`} pending={p} onCancel={() => queue.cancel(p.job.id)} />
            ))}
            {shown.map((run, i) => (
              <ResultCard key={run.id} run={run} latest={i === 0} />
            ))}
            {shown.length > 0 && (
              <p>
                <button type="button" class="link" onClick={() => clearResults(shownApi)}>
                  Clear these results
                </button>
              </p>
            )}
          </div>
        </div>
      )}
    </section>
  );
}
