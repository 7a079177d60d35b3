import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, getJson, modelPath, oipPath, type IndexEntry, type ModelDescription, type ModelMetadata, type ModelState, type ModelSummary } from './api.js';
import { Link } from './router.js';
import { StateBadge } from './state-badge.js';

/** Details fetched per model for its card (at most this many, so a huge repository stays quick). */
const DETAILED = 60;

interface Row {
  name: string;
  hasHandler: boolean;
  kind: string;
  state: ModelState;
  versions: string[];
  reason: string;
}

/** "App" when a handler shapes the request and response, "graph" for raw tensors over OIP. */
export function kindLabel(summary: Pick<ModelSummary, 'kind' | 'handler'>): string {
  if (summary.kind === 'pipeline') return 'app (pipeline)';
  return summary.handler === null ? 'graph' : 'app + graph';
}

function rows(models: ModelSummary[], index: IndexEntry[]): Row[] {
  return models.map((model) => {
    const entries = index.filter((e) => e.name === model.name);
    const reason = entries.map((e) => e.reason).find((r) => r !== '') ?? '';
    return {
      name: model.name,
      hasHandler: model.handler !== null,
      kind: kindLabel(model),
      state: model.state,
      versions: entries.flatMap((e) => (e.version === undefined ? [] : [e.version])),
      reason,
    };
  });
}

export function ModelList() {
  const [models, setModels] = useState<Row[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [filter, setFilter] = useState('');
  const [details, setDetails] = useState<Record<string, string>>({});

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const [list, index] = await Promise.all([
          getJson<ModelSummary[]>('api/models'),
          call<IndexEntry[]>('v2/repository/index', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.body),
        ]);
        if (stopped) return;
        const loaded = rows(list, index);
        setModels(loaded);
        setError(undefined);
        // Keep watching while something is still loading, so the page turns READY by itself.
        if (loaded.some((m) => m.state === 'LOADING' || m.state === 'UNLOADING')) timer = setTimeout(load, 2000);
      } catch (e) {
        if (stopped) return;
        setError(e instanceof ApiError ? e.message : String(e));
        timer = setTimeout(load, 5000);
      }
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);

  // One line per card: what the handler says it does, else the graph's signature.
  const names = models?.filter((m) => m.state === 'READY').map((m) => m.name).join('\n') ?? '';
  useEffect(() => {
    if (models === undefined) return;
    let stopped = false;
    for (const model of models.filter((m) => m.state === 'READY').slice(0, DETAILED)) {
      if (details[model.name] !== undefined) continue;
      const line = model.hasHandler
        ? getJson<ModelDescription>(modelPath(model.name)).then((d) => d.handler?.description)
        : getJson<ModelMetadata>(oipPath(model.name)).then(
            (m) => `${m.inputs.map((t) => `${t.name} ${t.datatype}[${t.shape.join(',')}]`).join(', ')} → ${m.outputs.map((t) => `${t.name} ${t.datatype}[${t.shape.join(',')}]`).join(', ')}`,
          );
      line.then(
        (text) => !stopped && text !== undefined && setDetails((d) => ({ ...d, [model.name]: text })),
        () => undefined,
      );
    }
    return () => {
      stopped = true;
    };
  }, [names]);

  const shown = models?.filter((m) => m.name.toLowerCase().includes(filter.trim().toLowerCase())) ?? [];
  return (
    <section>
      <h1 tabIndex={-1}>Models</h1>
      <p class="lead">Pick a model to try it: every model gets a page generated from its signature, and every result can be flagged.</p>
      {error !== undefined && (
        <p role="alert" class="error">
          Could not list the models: {error}
        </p>
      )}
      {models === undefined && error === undefined && <p aria-live="polite">Loading models…</p>}
      {models !== undefined && models.length > 6 && (
        <p>
          <label>
            Filter{' '}
            <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder="model name" />
          </label>
        </p>
      )}
      {models !== undefined && models.length === 0 && <p>This server serves no models.</p>}
      {models !== undefined && models.length > 0 && (
        <ul class="model-list">
          {shown.map((m) => (
            <li key={m.name} class="model-card">
              <div class="model-card-head">
                <Link to={`models/${encodeURIComponent(m.name)}`} class="model-name">
                  {m.name}
                </Link>
                <StateBadge state={m.state} />
              </div>
              <div class="muted">
                {m.kind}
                {m.versions.length > 0 && ` · version${m.versions.length > 1 ? 's' : ''} ${m.versions.join(', ')}`}
              </div>
              {details[m.name] !== undefined && <div class={m.hasHandler ? 'summary' : 'summary signature'}>{details[m.name]}</div>}
              {m.reason !== '' && m.state !== 'READY' && <div class="reason">{m.reason}</div>}
            </li>
          ))}
        </ul>
      )}
      {models !== undefined && models.length > 0 && shown.length === 0 && <p>No model name contains “{filter}”.</p>}
    </section>
  );
}
