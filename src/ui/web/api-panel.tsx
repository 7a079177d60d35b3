import { useEffect, useState } from 'preact/hooks';
import { apiUrl, call, type ModelDescription, type ModelMetadata, type SessionState } from './api.js';
import { handlerSnippets, inferSnippets, type Snippet } from './api-snippets.js';
import { isBundled } from './device-switch.js';
import type { Run } from './run.js';

export interface ApiPanelProps {
  model: ModelDescription;
  /** The route the page's form calls: the handler's, or the graph's OIP infer. */
  api: 'predict' | 'infer';
  metadata?: ModelMetadata;
  /** The newest result of that route: its request fills the snippets. */
  last?: Run;
}

/** "Use via API": the call the form makes, ready to copy for curl, the TypeScript client, Python and gRPC. */
export function ApiPanel({ model, api, metadata, last }: ApiPanelProps) {
  const origin = apiUrl('').replace(/\/$/, '');
  // gRPC has its own port, which the page cannot see: the default, as `slipway serve` prints it.
  const grpcAddress = `${location.hostname}:8001`;
  const snippets: Snippet[] =
    api === 'predict' ? handlerSnippets(origin, model, last) : metadata === undefined ? [] : inferSnippets(origin, grpcAddress, metadata, last);
  const [chosen, setChosen] = useState<Snippet['language']>('curl');
  const [copied, setCopied] = useState(false);
  // The page may be signed in with a cookie; code elsewhere has to send the key itself.
  const [keyRequired, setKeyRequired] = useState(false);
  useEffect(() => {
    // A browser bundle's page makes no server call of its own (its session is the server's business).
    if (isBundled(model.name)) return;
    call<SessionState>('api/session').then(
      (answer) => setKeyRequired(answer.body.key_required.inference),
      () => undefined,
    );
  }, []);
  if (snippets.length === 0) return null;
  const snippet = snippets.find((s) => s.language === chosen) ?? snippets[0]!;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(snippet.code);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      setCopied(false);
    }
  };
  return (
    <details class="api-panel">
      <summary>Use via API</summary>
      <p class="muted">
        {last === undefined ? 'The call this form makes' : `The call of result #${last.id}${last.example !== undefined ? ` (example ${last.example})` : ''}`}, from your own code.{' '}
        {api === 'predict' && model.kind !== 'pipeline' && 'The graph alone answers OIP (the Graph tab), over REST and gRPC.'}
      </p>
      <div class="segmented" role="tablist" aria-label="Language">
        {snippets.map((s) => (
          <button key={s.language} type="button" role="tab" aria-selected={s.language === snippet.language} class={s.language === snippet.language ? 'selected' : ''} onClick={() => setChosen(s.language)}>
            {s.language}
          </button>
        ))}
      </div>
      <pre class="snippet" role="tabpanel" aria-label={`${snippet.language} snippet`}>
        <code>{snippet.code}</code>
      </pre>
      {snippet.note !== undefined && <p class="muted hint">{snippet.note}</p>}
      {keyRequired && (
        <p class="muted hint key-hint">
          This server needs an API key for these calls: send <code>Authorization: Bearer &lt;key&gt;</code> (curl:{' '}
          <code>-H "Authorization: Bearer $SLIPWAY_API_KEY"</code>; TypeScript: <code>{'{ apiKey }'}</code> in the client's options; gRPC: an{' '}
          <code>authorization</code> metadata entry).
        </p>
      )}
      <button type="button" onClick={() => void copy()}>
        {copied ? 'Copied' : 'Copy'}
      </button>
    </details>
  );
}
