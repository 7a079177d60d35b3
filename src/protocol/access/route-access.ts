/**
 * What guards a route, from its method and path (the query left off):
 *
 * - `probe`: health and liveness routes and /metrics. Always open and never rate limited, so a busy
 *   or locked-down server is not restarted by its orchestrator.
 * - `docs`: the API docs (they describe the API, they call nothing).
 * - `page`: the UI's pages and their built files. Open (the data they show comes from the API), but
 *   answered only for allowed Host names.
 * - `session`: the UI's sign-in route. Allowed Host names, same-origin writes.
 * - `feedback-read`: flags, exports and uploaded files: the `ui` group, allowed Host names.
 * - `feedback-write`: flagging a result: the `inference` group (whoever may ask may flag), allowed
 *   Host names, same-origin writes only.
 * - `admin`: repository load/unload, traffic and rollout changes: their routes check the admin token.
 * - `inference`: everything else (OIP, dialects, handler predict, the UI's model API, edge bundles),
 *   so a route added later is guarded by default.
 */
export type RouteAccess = 'probe' | 'docs' | 'page' | 'session' | 'feedback-read' | 'feedback-write' | 'admin' | 'inference';

export interface RouteAccessOptions {
  /** Vertex AI's AIP_HEALTH_ROUTE, a probe when configured. */
  extraProbes?: readonly string[];
  /** Whether `GET /` asks for HTML (the UI's home page; otherwise it is Azure ML's liveness route). */
  acceptsHtml?: boolean;
}

const PROBES = new Set(['/v2/health/live', '/v2/health/ready', '/metrics', '/ping']);

export function routeAccess(method: string, path: string, options: RouteAccessOptions = {}): RouteAccess {
  if (PROBES.has(path) || options.extraProbes?.includes(path) === true) return 'probe';
  if (path === '/') return options.acceptsHtml === true ? 'page' : 'probe';
  if (path === '/docs' || path.startsWith('/docs/') || path === '/openapi.json') return 'docs';
  if (path === '/flags' || path.startsWith('/models/') || path.startsWith('/ui/')) return 'page';
  if (path === '/api/session') return 'session';
  if (path === '/api/feedback' || path.startsWith('/api/feedback/')) return method === 'GET' || method === 'HEAD' ? 'feedback-read' : 'feedback-write';
  if (method !== 'GET' && method !== 'HEAD') {
    if (/^\/v2\/repository\/models\/[^/]+\/(load|unload)$/.test(path)) return 'admin';
    if (/^\/v2\/models\/[^/]+\/(traffic|rollout(\/rollback|\/promote)?)$/.test(path)) return 'admin';
  }
  return 'inference';
}
