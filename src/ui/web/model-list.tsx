import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, getJson, oipPath, type IndexEntry, type ModelMetadata, type ModelState, type ModelSummary } from './api.js';
import { Link } from './router.js';
import { StateBadge } from './state-badge.js';

/** Signatures fetched for graph cards (at most this many, so a huge repository stays quick). */
const DETAILED = 60;

interface Row {
  name: string;
  hasHandler: boolean;
  kind: string;
  state: ModelState;
  versions: string[];
  reason: string;
  description?: string;
  uses: string[];
  partOf: string[];
}

/** "App" when a handler shapes the request and response, "graph" for raw tensors over OIP. */
export function kindLabel(summary: Pick<ModelSummary, 'kind' | 'handler'>): string {
  if (summary.kind === 'pipeline') return 'app (pipeline)';
  if (summary.handler?.mode === 'tensor') return 'tensor handler';
  return summary.handler === null ? 'graph' : 'app + graph';
}

function rows(models: ModelSummary[], index: IndexEntry[]): Row[] {
  return models.map((model) => {
    const entries = index.filter((e) => e.name === model.name);
    const reason = entries.map((e) => e.reason).find((r) => r !== '') ?? '';
    return {
      name: model.name,
      // A tensor handler has no form of its own: it is tried with tensors, as a graph is.
      hasHandler: model.handler !== null && model.handler.mode !== 'tensor',
      kind: kindLabel(model),
      state: model.state,
      versions: entries.flatMap((e) => (e.version === undefined ? [] : [e.version])),
      reason,
      ...(model.description !== undefined && { description: model.description }),
      uses: model.uses ?? [],
      partOf: model.part_of ?? [],
    };
  });
}

/**
 * The home page: the demos first (models with a handler: something to try with a picture or text),
 * each with what it does and, for a pipeline, the models it is made of; then the plain graphs. A
 * model that is only part of a pipeline is shown on its pipeline's card, not as a demo of its own.
 */
export function ModelList() {
  const [models, setModels] = useState<Row[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [filter, setFilter] = useState('');
  const [signatures, setSignatures] = useState<Record<string, string>>({});

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

  // A graph without a handler says what it takes and gives: its signature.
  const names = models?.filter((m) => m.state === 'READY' && !m.hasHandler).map((m) => m.name).join('\n') ?? '';
  useEffect(() => {
    if (models === undefined) return;
    let stopped = false;
    for (const model of models.filter((m) => m.state === 'READY' && !m.hasHandler).slice(0, DETAILED)) {
      if (signatures[model.name] !== undefined) continue;
      getJson<ModelMetadata>(oipPath(model.name)).then(
        (m) =>
          !stopped &&
          setSignatures((d) => ({
            ...d,
            [model.name]: `${m.inputs.map((t) => `${t.name} ${t.datatype}[${t.shape.join(',')}]`).join(', ')} → ${m.outputs.map((t) => `${t.name} ${t.datatype}[${t.shape.join(',')}]`).join(', ')}`,
          })),
        () => undefined,
      );
    }
    return () => {
      stopped = true;
    };
  }, [names]);

  const needle = filter.trim().toLowerCase();
  const matches = (m: Row): boolean =>
    needle === '' || [m.name, m.description ?? '', signatures[m.name] ?? '', ...m.uses].some((text) => text.toLowerCase().includes(needle));
  const byName = new Map((models ?? []).map((m) => [m.name, m]));
  // Parts show on their pipeline's card; a part whose pipeline is not served stands on its own.
  const isPart = (m: Row) => m.partOf.some((p) => byName.has(p));
  const demos = (models ?? []).filter((m) => m.hasHandler && matches(m));
  const graphs = (models ?? []).filter((m) => !m.hasHandler && !isPart(m) && matches(m));
  const total = (models ?? []).length;

  const card = (m: Row) => (
    <li key={m.name} class={`model-card${m.hasHandler ? ' demo' : ''}`}>
      <div class="model-card-head">
        <Link to={`models/${encodeURIComponent(m.name)}`} class="model-name">
          {m.name}
        </Link>
        <StateBadge state={m.state} />
      </div>
      {m.description !== undefined && <p class="summary">{m.description}</p>}
      {!m.hasHandler && signatures[m.name] !== undefined && <div class="summary signature">{signatures[m.name]}</div>}
      <div class="muted">
        {m.kind}
        {m.versions.length > 0 && ` · version${m.versions.length > 1 ? 's' : ''} ${m.versions.join(', ')}`}
      </div>
      {m.uses.length > 0 && (
        <div class="parts">
          <span class="muted">made of </span>
          {m.uses.map((part, i) => (
            <span key={part}>
              {i > 0 && ', '}
              {byName.has(part) ? <Link to={`models/${encodeURIComponent(part)}`}>{part}</Link> : <span title="not served">{part}</span>}
              {byName.get(part) !== undefined && byName.get(part)!.state !== 'READY' && <span class="muted"> ({byName.get(part)!.state.toLowerCase()})</span>}
            </span>
          ))}
        </div>
      )}
      {m.reason !== '' && m.state !== 'READY' && <div class="reason">{m.reason}</div>}
    </li>
  );

  return (
    <section>
      <h1 tabIndex={-1}>Models</h1>
      <p class="lead">Try a demo: every model gets a page generated from its signature, and every result can be flagged.</p>
      {error !== undefined && (
        <p role="alert" class="error">
          Could not list the models: {error}
        </p>
      )}
      {models === undefined && error === undefined && <p aria-live="polite">Loading models…</p>}
      {total > 6 && (
        <p>
          <label>
            Filter{' '}
            <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder="name or what it does" />
          </label>
        </p>
      )}
      {models !== undefined && total === 0 && <p>This server serves no models.</p>}
      {demos.length > 0 && (
        <>
          <h2 class="list-heading">Demos</h2>
          <ul class="model-list" aria-label="Demos">
            {demos.map(card)}
          </ul>
        </>
      )}
      {graphs.length > 0 && (
        <>
          <h2 class="list-heading">{demos.length > 0 ? 'Graphs' : 'Models'}</h2>
          <ul class="model-list" aria-label={demos.length > 0 ? 'Graphs' : 'Models'}>
            {graphs.map(card)}
          </ul>
        </>
      )}
      {models !== undefined && total > 0 && demos.length + graphs.length === 0 && <p>No model’s name or description contains “{filter}”.</p>}
    </section>
  );
}
