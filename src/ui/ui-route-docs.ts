import { readFile } from 'node:fs/promises';
import type { HandlerRouteDoc, RouteDoc } from '../protocol/http/openapi/openapi.js';
import type { Slipway } from '../slipway.js';
import { z } from 'zod';
import { flagRequestSchema } from './feedback-routes.js';

const sessionRequestSchema = z.strictObject({ key: z.string().min(1).describe('an inference, ui or admin key of this server') });
import { exampleFile, listExamples } from './model-examples.js';

/** Example pictures up to this size go into the docs' JSON body as data: URLs. */
const MAX_EXAMPLE_BYTES = 64 * 1024;

/**
 * The handlers served now, for the docs' predict route: each one's input schema and file fields,
 * and a JSON body made from its first example picture (as a data: URL), so "Try it out" works as is.
 */
export async function handlerRouteDocs(slipway: Slipway): Promise<HandlerRouteDoc[]> {
  const docs: HandlerRouteDoc[] = [];
  for (const name of slipway.repository.names()) {
    const model = slipway.repository.get(name)!;
    const description = model.handler?.state === 'READY' ? model.handler.pool?.description : undefined;
    if (description === undefined || description.mode === 'tensor') continue;
    let example: Record<string, unknown> | undefined;
    const [field] = description.fileFields;
    if (field !== undefined && description.fileFields.length === 1) {
      const picture = (await listExamples(model, '')).find((e) => e.kind === 'image' && (e.bytes ?? Infinity) <= MAX_EXAMPLE_BYTES);
      const file = picture === undefined ? undefined : await exampleFile(model, picture.name);
      if (file !== undefined) example = { [field]: `data:${file.mediaType};base64,${(await readFile(file.path)).toString('base64')}` };
    }
    docs.push({ model: name, inputSchema: description.inputSchema, fileFields: description.fileFields, ...(example !== undefined && { example }) });
  }
  return docs;
}

/**
 * OpenAPI entries for the routes `uiRoutes` adds, so /openapi.json documents every route the
 * server registers when the UI is on. (`GET /` is documented already: without `Accept: text/html`
 * it is Azure ML's liveness route.)
 */
export function uiRouteDocs(): RouteDoc[] {
  const page = (path: string, summary: string): RouteDoc => ({ method: 'get', path, tag: 'Prototype UI', summary, responseType: 'text/html' });
  return [
    page('/flags', 'UI: the feedback flags, with CSV and JSONL export'),
    page('/models/{model}', "UI: a model's page, its form generated from the handler's input schema or the graph's tensors"),
    { method: 'get', path: '/ui/{file}', tag: 'Prototype UI', summary: "The UI's bundled script and style sheet (content-hashed names)", responseType: 'text/plain', errors: [404] },
    { method: 'get', path: '/api/models/{model}/examples', tag: 'Prototype UI', summary: "Example inputs from the model folder: files in its examples/ folder and samples.json entries", errors: [404] },
    { method: 'get', path: '/api/models/{model}/examples/{file}', tag: 'Prototype UI', summary: 'One example file', responseType: 'application/octet-stream', errors: [404] },
    { method: 'get', path: '/api/models/{model}/optimize-reports', tag: 'Prototype UI', summary: 'The optimize-report.json of every version slipway optimize wrote (size, speed, accuracy), newest first', errors: [404] },
    { method: 'get', path: '/api/models/{model}/versions/{version}/optimize-report', tag: 'Prototype UI', summary: "One version's optimize-report.json", errors: [404] },
    {
      method: 'post',
      path: '/api/feedback',
      tag: 'Feedback',
      summary:
        'Flag a result: JSON, or multipart with a "flag" JSON part and the input\'s files as file parts (referred to from input as {"$file": "<part>"}). Files and documents over 64 KiB are stored once by SHA-256.',
      request: flagRequestSchema,
      requestTypes: ['multipart/form-data'],
      errors: [400, 404, 413, 503],
    },
    { method: 'get', path: '/api/session', tag: 'Prototype UI', summary: 'Whether keys are needed (inference, ui) and whether this browser is signed in' },
    {
      method: 'post',
      path: '/api/session',
      tag: 'Prototype UI',
      summary: 'Sign in: {"key": "<API key>"} sets an HttpOnly, SameSite=Strict cookie the UI\'s calls and downloads carry (12 h)',
      request: sessionRequestSchema,
      errors: [400, 401, 403],
    },
    { method: 'delete', path: '/api/session', tag: 'Prototype UI', summary: 'Sign out: clears the cookie' },
    { method: 'get', path: '/api/feedback', tag: 'Feedback', summary: 'Flags, newest first (?model=&label=&before=<id>&limit=)', errors: [400, 503] },
    { method: 'get', path: '/api/feedback/export', tag: 'Feedback', summary: 'Every matching flag as CSV or JSON Lines (?format=csv|jsonl&model=&label=)', responseType: 'text/csv', errors: [400, 503] },
    { method: 'get', path: '/api/feedback/{id}', tag: 'Feedback', summary: 'One flag', errors: [400, 404, 503] },
    { method: 'get', path: '/api/feedback/blobs/{sha256}', tag: 'Feedback', summary: 'A stored file or large document, by SHA-256', responseType: 'application/octet-stream', errors: [400, 404, 503] },
  ];
}
