import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ServingError } from '../errors/serving-error.js';
import { CROSS_ORIGIN_ISOLATION } from '../edge/static-server.js';
import { sendError } from '../protocol/http/error-reply.js';
import type { Slipway } from '../slipway.js';
import { feedbackRoutes, type FeedbackSource } from './feedback-routes.js';
import type { FeedbackStore } from './feedback/feedback-store.js';
import { openFeedbackStore } from './feedback/open-feedback-store.js';
import { exampleFile, listExamples } from './model-examples.js';
import { readOptimizeReports } from './optimize-reports.js';
import { loadUiAssets, type UiAsset } from './ui-assets.js';

export interface UiRoutesOptions {
  slipway: Slipway;
  /** The feedback store: a URL (`sqlite:PATH`, `postgres://…`) opened here and closed with the server, or an open store (yours to close). */
  feedback: string | FeedbackStore;
  /**
   * When to open a feedback URL: `at-start` (default: a store you asked for must work, or the server
   * does not start), or `on-first-use` (the default location: no file appears until someone flags,
   * and a store that cannot be opened answers 503 with the reason while the UI keeps working).
   */
  openFeedback?: 'at-start' | 'on-first-use';
  /** Where the built UI is (default: dist/src/ui/static). */
  assetsDir?: string;
  /** Largest multipart flag, its files and JSON together, in bytes (default 64 MiB). */
  maxFeedbackFileBytes?: number;
}

/**
 * `GET /` is also Azure ML's liveness route (it answers "Healthy"). Browsers ask for HTML, probes do
 * not, so the UI takes `/` only for requests that accept text/html: one `includes` per request.
 */
const HTML_CONSTRAINT = 'slipwayAcceptsHtml';

function addHtmlConstraint(app: FastifyInstance): void {
  if (app.hasConstraintStrategy(HTML_CONSTRAINT)) return;
  app.addConstraintStrategy({
    name: HTML_CONSTRAINT,
    storage() {
      const handlers = new Map<string, unknown>();
      return {
        get: (value: string) => handlers.get(value) ?? null,
        set: (value: string, handler: unknown) => void handlers.set(value, handler),
      };
    },
    deriveConstraint: (request: { headers: Record<string, string | string[] | undefined> }) => {
      const accept = request.headers.accept;
      return typeof accept === 'string' && accept.includes('text/html') ? 'html' : undefined;
    },
  } as unknown as Parameters<FastifyInstance['addConstraintStrategy']>[0]);
}

/**
 * The UI's pages (and a model's browser bundle page, which is the UI's model page) only talk to this
 * server: no CDN, no inline script, nothing framed elsewhere. WebAssembly and workers from this
 * server are allowed for the on-device model.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'self'",
].join('; ');

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: UiAsset): FastifyReply {
  reply.type(asset.contentType).header('vary', 'accept-encoding');
  const accepts = request.headers['accept-encoding'];
  if (asset.gzip !== undefined && typeof accepts === 'string' && /\bgzip\b/.test(accepts)) {
    return reply.header('content-encoding', 'gzip').send(asset.gzip);
  }
  return reply.send(asset.body);
}

function withBase(index: UiAsset, base: string): UiAsset {
  const escaped = base.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = Buffer.from(index.body.toString('utf8').replace('<base href="/">', `<base href="${escaped}">`), 'utf8');
  return { contentType: index.contentType, body, gzip: gzipSync(body, { level: 9 }) };
}

async function openFeedback(options: UiRoutesOptions, app: FastifyInstance): Promise<FeedbackSource> {
  const { feedback } = options;
  if (typeof feedback !== 'string') return { get: async () => feedback };
  if (options.openFeedback !== 'on-first-use') {
    const store = await openFeedbackStore(feedback);
    app.addHook('onClose', async () => store.close());
    return { get: async () => store };
  }
  let opening: Promise<FeedbackStore> | undefined;
  app.addHook('onClose', async () => {
    const store = await opening?.catch(() => undefined);
    await store?.close();
  });
  const get = (): Promise<FeedbackStore> => {
    opening ??= openFeedbackStore(feedback).catch((error: unknown) => {
      // Not remembered: the next request tries again (a folder made writable, a database back up).
      opening = undefined;
      const reason = (error as Error).message;
      app.log.warn({ event: 'feedback_unavailable', reason }, `UI feedback is unavailable: ${reason}`);
      throw new ServingError('DATABASE_UNAVAILABLE', `feedback is off: ${reason} (start the server with --feedback-db sqlite:PATH or postgres://…)`, { cause: error });
    });
    return opening;
  };
  return { get };
}

/**
 * The prototype web UI: a page listing the served models (`/`), a page per model generated from its
 * signature (`/models/{model}`: a form from the handler's input schema or the graph's tensors, the
 * result drawn as charts, boxes or text, its latency, a "flag" control), and the flags page
 * (`/flags`), all plain clients of the public APIs. Also `GET /api/models/{m}/examples[/{file}]`,
 * `GET /api/models/{m}/optimize-reports` and `GET /api/models/{m}/versions/{v}/optimize-report`
 * (example inputs from the model folder) and the feedback API (see `feedbackRoutes`).
 *
 * @example
 * import { Slipway, createHttpServer } from 'slipway';
 * const slipway = await Slipway.open({ models: './models' });
 * const app = createHttpServer(slipway, { ui: { feedback: 'sqlite:./feedback.db' } });
 * await app.listen({ port: 8000 }); // open http://127.0.0.1:8000/
 */
export const uiRoutes: FastifyPluginAsync<UiRoutesOptions> = async (app, options) => {
  const { slipway } = options;
  const source = await openFeedback(options, app);
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));

  const assets = loadUiAssets(options.assetsDir);
  if (assets === undefined) app.log.warn({ event: 'ui_not_built' }, 'the UI is not built (dist/src/ui/static is missing): run `npm run build`');
  const base = `${app.prefix}/`;
  const index = assets === undefined ? undefined : withBase(assets.index, base);

  const page = (status: (request: FastifyRequest) => number) => async (request: FastifyRequest, reply: FastifyReply) => {
    if (index === undefined) throw new ServingError('NOT_IMPLEMENTED', 'the UI is not built: run `npm run build` (it bundles src/ui/web into dist/src/ui/static)');
    reply
      .code(status(request))
      .header('cache-control', 'no-cache')
      .header('content-security-policy', PAGE_CSP)
      // Cross-origin isolated, so an on-device model gets wasm threads (everything here is same-origin).
      .headers(CROSS_ORIGIN_ISOLATION)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin');
    return sendAsset(request, reply, index);
  };

  addHtmlConstraint(app);
  app.get('/', { constraints: { [HTML_CONSTRAINT]: 'html' } }, page(() => 200));
  app.get('/flags', page(() => 200));
  // The page renders the "unknown model" message itself; the status says it too.
  app.get('/models/:model', page((request) => (slipway.repository.get((request.params as { model: string }).model) === undefined ? 404 : 200)));

  app.get('/ui/:file', async (request: FastifyRequest<{ Params: { file: string } }>, reply) => {
    const asset = assets?.files.get(request.params.file);
    if (asset === undefined) throw new ServingError('ROUTE_NOT_FOUND', `no UI file '${request.params.file.slice(0, 80)}'`);
    // Built file names carry a content hash, so they never change behind a name.
    reply.header('cache-control', 'public, max-age=31536000, immutable').header('x-content-type-options', 'nosniff');
    return sendAsset(request, reply, asset);
  });

  const modelOf = (name: string) => {
    const model = slipway.repository.get(name);
    if (model === undefined) {
      throw new ServingError('MODEL_NOT_FOUND', `unknown model '${name}'; serving: ${slipway.repository.names().join(', ') || 'nothing'}`);
    }
    return model;
  };

  app.get('/api/models/:model/examples', async (request: FastifyRequest<{ Params: { model: string } }>) => {
    const { model: name } = request.params;
    return { examples: await listExamples(modelOf(name), `${app.prefix}/api/models/${encodeURIComponent(name)}/examples`) };
  });

  app.get('/api/models/:model/examples/:file', async (request: FastifyRequest<{ Params: { model: string; file: string } }>, reply) => {
    const { model: name, file } = request.params;
    const found = await exampleFile(modelOf(name), file);
    if (found === undefined) throw new ServingError('ROUTE_NOT_FOUND', `model '${name}' has no example file '${file.slice(0, 120)}' (see GET /api/models/${name}/examples)`);
    const inline = /^(image\/(png|jpeg|webp|gif)|application\/json|text\/plain)/.test(found.mediaType);
    return reply
      .type(inline ? found.mediaType : 'application/octet-stream')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'no-cache')
      .send(await readFile(found.path));
  });

  // What `slipway optimize` measured for the versions it wrote (size, speed, accuracy), for the model page.
  app.get('/api/models/:model/optimize-reports', async (request: FastifyRequest<{ Params: { model: string } }>) => {
    return { reports: await readOptimizeReports(modelOf(request.params.model)) };
  });

  app.get('/api/models/:model/versions/:version/optimize-report', async (request: FastifyRequest<{ Params: { model: string; version: string } }>) => {
    const { model: name, version } = request.params;
    const model = modelOf(name);
    const v = Number(version);
    if (!model.versions.has(v)) throw new ServingError('VERSION_NOT_FOUND', `model '${name}' has no version '${version.slice(0, 40)}'; versions: ${[...model.versions.keys()].join(', ') || 'none'}`);
    const [report] = await readOptimizeReports(model, v);
    if (report === undefined) throw new ServingError('REPORT_NOT_FOUND', `version ${v} of '${name}' has no optimize-report.json (it was not written by slipway optimize)`);
    return report;
  });

  await app.register(feedbackRoutes, {
    slipway,
    feedback: source,
    ...(options.maxFeedbackFileBytes !== undefined && { maxFileBytes: options.maxFeedbackFileBytes }),
  });
};
