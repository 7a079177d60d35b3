import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

/** Media types a bundle needs served right: browsers refuse module scripts and (streamed) wasm otherwise. */
export const EDGE_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

/** The headers that make a page cross-origin isolated, so browsers give it SharedArrayBuffer (wasm threads). */
export const CROSS_ORIGIN_ISOLATION: Readonly<Record<string, string>> = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

export interface StaticServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  close(): Promise<void>;
}

export interface StaticServerOptions {
  /** Send the cross-origin isolation headers (default false: a plain host). */
  isolate?: boolean;
  /** Extra pages by path (`/measure.html`), served as HTML. */
  pages?: Record<string, string>;
}

/**
 * A minimal static file server for a bundle folder, on 127.0.0.1 and a free port: what `slipway
 * edge` measures latency with, once plain and once cross-origin isolated.
 *
 * @example
 * const server = await serveStatic('dist/digits-edge', { isolate: true });
 * console.log(`${server.url}index.html`);
 * await server.close();
 */
export async function serveStatic(root: string, options: StaticServerOptions = {}): Promise<StaticServer> {
  const base = normalize(root + sep);
  const server: Server = createServer((request, response) => {
    void (async () => {
      const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
      const headers: Record<string, string> = { 'cache-control': 'no-cache', ...(options.isolate === true ? CROSS_ORIGIN_ISOLATION : {}) };
      const page = options.pages?.[path];
      if (page !== undefined) {
        response.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(page);
        return;
      }
      const file = normalize(join(base, path.endsWith('/') ? `${path}index.html` : path));
      const info = file.startsWith(base) ? await stat(file).catch(() => undefined) : undefined;
      if (info === undefined || !info.isFile()) {
        response.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${path}`);
        return;
      }
      response.writeHead(200, { ...headers, 'content-type': EDGE_CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': String(info.size) });
      if (request.method === 'HEAD') response.end();
      else createReadStream(file).pipe(response);
    })().catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500).end(String(error));
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('static server: no port');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
