import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ServingError } from '../errors/serving-error.js';
import { sendError } from '../protocol/http/error-reply.js';
import type { Slipway } from '../slipway.js';
import { PAGE_CSP } from '../ui/ui-routes.js';
import { buildEdgeBundle } from './edge-bundle.js';
import { CROSS_ORIGIN_ISOLATION, EDGE_CONTENT_TYPES } from './static-server.js';

export interface EdgeRoutesOptions {
  slipway: Slipway;
}


interface Built {
  /** What the bundle was built from: every loaded version and handler, by identity, so a reload rebuilds it. */
  from: unknown[];
  dir: Promise<string>;
}

/**
 * `GET /edge/{model}/` and the files under it: the model's browser bundle (what `slipway edge`
 * writes), built on first request and again after the repository changes, with the fallback
 * pointed at this server. Every file is sent with the cross-origin isolation headers, so the page
 * gets wasm threads, and gzipped when the browser accepts it.
 *
 * @example
 * await app.register(edgeRoutes, { slipway });   // then open http://127.0.0.1:8000/edge/digits/
 */
export const edgeRoutes: FastifyPluginAsync<EdgeRoutesOptions> = async (app, { slipway }) => {
  const root = await mkdtemp(join(tmpdir(), 'slipway-edge-'));
  app.addHook('onClose', async () => rm(root, { recursive: true, force: true }));
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  const built = new Map<string, Built>();
  let builds = 0;

  const state = (): unknown[] =>
    slipway.repository.names().flatMap((name) => {
      const model = slipway.repository.get(name)!;
      return [model.handler, ...model.versions.values()];
    });

  const bundleDir = (name: string): Promise<string> => {
    if (slipway.repository.get(name) === undefined) {
      return Promise.reject(new ServingError('MODEL_NOT_FOUND', `unknown model '${name}'; serving: ${slipway.repository.names().join(', ') || 'nothing'}`));
    }
    const from = state();
    const current = built.get(name);
    if (current !== undefined && current.from.length === from.length && current.from.every((v, i) => v === from[i])) return current.dir;
    const out = join(root, `${name}-${++builds}`);
    const dir = buildEdgeBundle(slipway, name, { out, server: '../../', compression: 'gzip', linkShared: true }).then(() => out);
    built.set(name, { from, dir });
    dir.then(
      () => current?.dir.then((old) => rm(old, { recursive: true, force: true })).catch(() => undefined),
      () => built.get(name)?.dir === dir && built.delete(name),
    );
    return dir;
  };

  app.get('/edge/:model', async (request: FastifyRequest<{ Params: { model: string } }>, reply) =>
    reply.redirect(`${app.prefix}/edge/${encodeURIComponent(request.params.model)}/`, 301),
  );

  app.get('/edge/:model/*', async (request: FastifyRequest<{ Params: { model: string; '*': string } }>, reply: FastifyReply) => {
    const { model } = request.params;
    const path = request.params['*'] === '' ? 'index.html' : request.params['*'];
    if (path.includes('\0') || path.split('/').some((part) => part === '..' || part === '.')) {
      throw new ServingError('ROUTE_NOT_FOUND', `no file '${path.slice(0, 120)}' in the bundle of '${model}'`);
    }
    const dir = await bundleDir(model);
    const file = normalize(join(dir, path));
    const info = file.startsWith(dir + sep) ? await stat(file).catch(() => undefined) : undefined;
    if (info === undefined || !info.isFile()) throw new ServingError('ROUTE_NOT_FOUND', `no file '${path.slice(0, 120)}' in the bundle of '${model}'`);
    reply
      .headers(CROSS_ORIGIN_ISOLATION)
      .header('content-type', EDGE_CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding');
    if (path === 'index.html') reply.header('content-security-policy', PAGE_CSP);
    const accepts = request.headers['accept-encoding'];
    if (typeof accepts === 'string' && /\bgzip\b/.test(accepts)) {
      const gz = await stat(`${file}.gz`).catch(() => undefined);
      if (gz?.isFile() === true) return reply.header('content-encoding', 'gzip').header('content-length', gz.size).send(createReadStream(`${file}.gz`));
    }
    return reply.header('content-length', info.size).send(createReadStream(file));
  });
};
