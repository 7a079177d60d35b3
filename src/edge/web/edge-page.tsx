// The bundle's page (index.html): the prototype UI's model page for the bundled model, answered on
// this device. Its calls never leave the page except to the server it falls back to: the model's
// description, metadata and examples come from the bundle, predict and infer from the on-device
// model, feedback (flags) goes to the server when there is one.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import '../../ui/web/styles.css';
import { ApiError, answerLocally, callUrl, type Timed } from '../../ui/web/api.js';
import { setBundledModel } from '../../ui/web/device-switch.js';
import { ModelPage } from '../../ui/web/model-page.js';
import type { EdgeManifest } from '../edge-manifest.js';
import slipway from './slipway.js';

const local = <T,>(body: T): Promise<Timed<unknown>> => Promise.resolve({ body, status: 200, latencyMs: 0, serverTiming: [] });

/** Everything but predict and infer, which the model page's device switch answers from the device. */
function bundleAnswers(manifest: EdgeManifest): (path: string, init: RequestInit) => Promise<Timed<unknown>> | undefined {
  const model = encodeURIComponent(manifest.model);
  const server = manifest.fallback.server === null ? undefined : new URL(manifest.fallback.server, slipway.bundle);
  return (path, init) => {
    const method = (init.method ?? 'GET').toUpperCase();
    if (method === 'GET' && path === `api/models/${model}`) return local(manifest.description);
    if (method === 'GET' && path === `api/models/${model}/examples`) return local({ examples: manifest.examples });
    if (method === 'GET' && path === `v2/models/${model}`) {
      return manifest.graph === undefined ? Promise.reject(new ApiError(`model '${manifest.model}' has no graph`, 404)) : local(manifest.graph.metadata);
    }
    if (path === `api/models/${model}/predict` || path === `v2/models/${model}/infer`) return undefined;
    // Feedback and anything else the page asks is the server's business.
    if (server === undefined) return Promise.reject(new ApiError('this bundle has no server to send that to (build it with --server URL)', 503));
    return callUrl(new URL(path.replace(/^\//, ''), server).href, init);
  };
}

function EdgePage({ manifest }: { manifest: EdgeManifest }) {
  const [view, setView] = useState(() => new URLSearchParams(location.search).get('view') ?? undefined);
  useEffect(() => {
    // The model page's tabs navigate under the UI's routes; this page has one route, so keep the
    // address on the bundle (a reload must find index.html on any static host) and only keep ?view.
    const update = () => {
      const search = new URLSearchParams(location.search);
      setView(search.get('view') ?? undefined);
      history.replaceState(null, '', new URL(`./${search.has('view') ? `?view=${encodeURIComponent(search.get('view')!)}` : ''}`, slipway.bundle));
    };
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return (
    <>
      <header class="site-header">
        <span class="brand">Slipway</span>
        <nav aria-label="Main">
          <span class="muted">{manifest.model}, in this browser</span>
        </nav>
      </header>
      <main id="main">
        <ModelPage name={manifest.model} view={view} />
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
try {
  const manifest = await slipway.info();
  document.title = `${manifest.model} · on this device · Slipway`;
  setBundledModel(manifest.model, slipway);
  answerLocally(bundleAnswers(manifest));
  render(<EdgePage manifest={manifest} />, root);
} catch (error) {
  root.textContent = `This bundle could not be opened: ${(error as Error).message}`;
}
