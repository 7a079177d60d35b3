import { useEffect, useState } from 'preact/hooks';
import { ApiError, apiUrl, getJson, type FlagPage, type FlagRecord, type ModelSummary } from './api.js';
import { formatBytes, formatMs, formatTime, shortJson } from './format.js';
import { JsonView } from './json-view.js';
import { Link, navigate } from './router.js';

const PAGE = 50;
const LABELS = ['right', 'wrong', 'other'];

interface BlobRef {
  $blob: string;
  media_type: string;
  bytes: number;
  filename?: string;
}

/** Every stored file a flag's document refers to. */
function refsIn(document: unknown, found: BlobRef[] = []): BlobRef[] {
  if (Array.isArray(document)) for (const item of document) refsIn(item, found);
  else if (typeof document === 'object' && document !== null) {
    const record = document as Record<string, unknown>;
    if (typeof record.$blob === 'string') found.push(record as unknown as BlobRef);
    else for (const value of Object.values(record)) refsIn(value, found);
  }
  return found;
}

function Document({ value, what }: { value: unknown; what: string }) {
  const refs = refsIn(value);
  const images = refs.filter((r) => r.media_type.startsWith('image/'));
  return (
    <div class="document">
      {images.map((ref) => (
        <a key={ref.$blob} href={apiUrl(`api/feedback/blobs/${ref.$blob}`)} target="_blank" rel="noopener">
          <img class="thumb" src={apiUrl(`api/feedback/blobs/${ref.$blob}`)} alt={`${what} picture${ref.filename ? ` ${ref.filename}` : ''}`} loading="lazy" />
        </a>
      ))}
      {refs
        .filter((r) => !r.media_type.startsWith('image/'))
        .map((ref) => (
          <a key={ref.$blob} href={apiUrl(`api/feedback/blobs/${ref.$blob}`)} download>
            {ref.filename ?? ref.media_type} ({formatBytes(ref.bytes)})
          </a>
        ))}
      {images.length === 0 && <code>{summary(value)}</code>}
    </div>
  );
}

/** A few words for a document: its label or text when it has one, else short JSON. */
function summary(value: unknown): string {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of ['label', 'text', 'class', 'prediction']) {
      const v = record[key];
      if (typeof v === 'string' || typeof v === 'number') return `${key}: ${shortJson(v, 80)}`;
    }
  }
  return shortJson(value, 100);
}

/** The stored flags, newest first, filterable, with CSV and JSONL export of what the filter shows. */
export function FlagsPage({ model, label }: { model: string | undefined; label: string | undefined }) {
  const [models, setModels] = useState<string[]>([]);
  const [page, setPage] = useState<{ flags: FlagRecord[]; total: number; next: number | null } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loadingMore, setLoadingMore] = useState(false);

  const query = (extra: Record<string, string> = {}) => {
    const params = new URLSearchParams({ ...(model !== undefined && { model }), ...(label !== undefined && { label }), ...extra });
    return params.toString();
  };

  useEffect(() => {
    getJson<ModelSummary[]>('api/models').then(
      (list) => setModels(list.map((m) => m.name)),
      () => setModels([]),
    );
  }, []);

  useEffect(() => {
    let stopped = false;
    setPage(undefined);
    getJson<FlagPage>(`api/feedback?${query({ limit: String(PAGE) })}`).then(
      (answer) => {
        if (stopped) return;
        setPage({ flags: answer.flags, total: answer.total, next: answer.next_before });
        setError(undefined);
      },
      (e: unknown) => !stopped && setError(e instanceof ApiError ? e.message : String(e)),
    );
    return () => {
      stopped = true;
    };
  }, [model, label]);

  const more = async () => {
    if (page?.next == null) return;
    setLoadingMore(true);
    try {
      const answer = await getJson<FlagPage>(`api/feedback?${query({ limit: String(PAGE), before: String(page.next) })}`);
      setPage({ flags: [...page.flags, ...answer.flags], total: answer.total, next: answer.next_before });
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setLoadingMore(false);
    }
  };

  const filter = (change: { model?: string; label?: string }) => {
    const next = new URLSearchParams({
      ...((change.model ?? model) ? { model: (change.model ?? model)! } : {}),
      ...((change.label ?? label) ? { label: (change.label ?? label)! } : {}),
    });
    navigate(`flags${next.toString() === '' ? '' : `?${next}`}`, { replace: true });
  };

  const known = model !== undefined && !models.includes(model) ? [...models, model] : models;
  return (
    <section class="flags-page">
      <h1 tabIndex={-1}>Flags</h1>
      <p class="lead">What people said about results. Files are stored once, however often they are flagged.</p>
      <div class="toolbar">
        <label>
          Model{' '}
          <select value={model ?? ''} onChange={(e) => filter({ model: e.currentTarget.value })}>
            <option value="">all</option>
            {known.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label>
          Label{' '}
          <select value={label ?? ''} onChange={(e) => filter({ label: e.currentTarget.value })}>
            <option value="">all</option>
            {LABELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <span class="exports">
          Export:{' '}
          <a href={apiUrl(`api/feedback/export?${query({ format: 'csv' })}`)} download>
            CSV
          </a>{' '}
          <a href={apiUrl(`api/feedback/export?${query({ format: 'jsonl' })}`)} download>
            JSONL
          </a>
        </span>
      </div>
      {error !== undefined && (
        <p class="error" role="alert">
          Could not read the flags: {error}
        </p>
      )}
      {page === undefined && error === undefined && <p aria-live="polite">Loading flags…</p>}
      {page !== undefined && (
        <>
          <p aria-live="polite">
            {page.total === 0 ? 'No flags yet: flag a result on a model page.' : `${page.total} flag${page.total === 1 ? '' : 's'}${page.total > page.flags.length ? `, ${page.flags.length} shown` : ''}.`}
          </p>
          {page.flags.length > 0 && (
            <div class="table-scroll">
              <table class="flags">
                <thead>
                  <tr>
                    <th scope="col">#</th>
                    <th scope="col">When</th>
                    <th scope="col">Model</th>
                    <th scope="col">Label</th>
                    <th scope="col">Expected · comment</th>
                    <th scope="col">Input</th>
                    <th scope="col">Output</th>
                  </tr>
                </thead>
                <tbody>
                  {page.flags.map((flag) => (
                    <tr key={flag.id} id={`flag-${flag.id}`}>
                      <td data-label="#">{flag.id}</td>
                      <td data-label="When">
                        {formatTime(flag.created_at)}
                        {flag.latency_ms !== null && <div class="muted">{formatMs(flag.latency_ms)}</div>}
                      </td>
                      <td data-label="Model">
                        <Link to={`models/${encodeURIComponent(flag.model)}`}>{flag.model}</Link>
                        <div class="muted">
                          {flag.model_version === null ? flag.api : `v${flag.model_version} · ${flag.api}`}
                        </div>
                      </td>
                      <td data-label="Label">
                        <span class={`badge flag-${flag.label}`}>{flag.label}</span>
                      </td>
                      <td data-label="Expected · comment">
                        {flag.expected !== null && (
                          <div>
                            <span class="muted">expected </span>
                            {flag.expected}
                          </div>
                        )}
                        {flag.comment !== '' && <div class="comment">{flag.comment}</div>}
                      </td>
                      <td data-label="Input">
                        <Document value={flag.input} what="input" />
                      </td>
                      <td data-label="Output">
                        <Document value={flag.output} what="output" />
                        <JsonView value={{ input: flag.input, output: flag.output }} summary="Details" name={`flag-${flag.id}.json`} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {page.next !== null && (
            <button type="button" onClick={() => void more()} disabled={loadingMore}>
              {loadingMore ? 'Loading…' : 'Older flags'}
            </button>
          )}
        </>
      )}
    </section>
  );
}
