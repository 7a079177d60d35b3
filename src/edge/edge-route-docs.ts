import type { RouteDoc } from '../protocol/http/openapi/openapi.js';

/** OpenAPI entries for `edgeRoutes`, so /openapi.json documents every route the server registers. */
export function edgeRouteDocs(): RouteDoc[] {
  return [
    { method: 'get', path: '/edge/{model}', tag: 'Browser bundle', summary: 'Redirects to /edge/{model}/', responseType: 'text/html', errors: [404] },
    {
      method: 'get',
      path: '/edge/{model}/*',
      tag: 'Browser bundle',
      summary:
        "The model's browser bundle (what `slipway edge` writes): index.html runs it on the device, slipway.js is its API, with the fallback to this server. Built on first request; cross-origin isolated (COOP/COEP) for wasm threads.",
      responseType: 'application/octet-stream',
      errors: [404, 503],
    },
  ];
}
