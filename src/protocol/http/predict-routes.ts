import multipart from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { HandlerConfig } from '../../config/handler-config.js';
import { ServingError } from '../../errors/serving-error.js';
import type { ModelHandler } from '../../repository/model-handler.js';
import type { Model } from '../../repository/model-repository.js';
import type { UploadedFile } from '../../runtime/handler/file-schema.js';
import type { HandlerPool } from '../../runtime/handler/handler-pool.js';
import type { PredictPayload } from '../../runtime/handler/handler-messages.js';
import type { Slipway } from '../../slipway.js';
import { sendError } from './error-reply.js';
import { httpRouting } from './http-routing.js';
import { describeModel, modelKind, modelState } from './describe-model.js';
import { DEFAULT_BODY_LIMIT_BYTES } from './oip-routes.js';

export interface PredictRoutesOptions {
  slipway: Slipway;
  /** Largest JSON or raw-upload body, in bytes (413 beyond). Multipart uploads are bounded per file by `handler.max_file_bytes`. */
  bodyLimitBytes?: number;
}

type ModelParams = { model: string };

// A text part may hold a JSON document (a list of options, say); larger than this is refused.
const MAX_FIELD_BYTES = 1024 * 1024;
const MAX_FIELDS = 256;

/** Bodies read as JSON: what JSON clients send, and what `curl -d` sends without a content type. */
function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType === '') return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json') || type === 'text/plain' || type === 'application/x-www-form-urlencoded';
}

function readyHandler(slipway: Slipway, name: string): { handler: ModelHandler; pool: HandlerPool } {
  const model = slipway.repository.get(name);
  if (model === undefined) {
    throw new ServingError('MODEL_NOT_FOUND', `unknown model '${name}'; serving: ${slipway.repository.names().join(', ') || 'nothing'}`);
  }
  const handler = model.handler;
  if (handler === undefined) {
    throw new ServingError(
      'HANDLER_NOT_FOUND',
      `model '${name}' has no handler (a handler.ts in its folder); call its graph with POST /v2/models/${name}/infer`,
    );
  }
  if (handler.state !== 'READY' || handler.pool === undefined) {
    throw new ServingError('MODEL_NOT_READY', `handler of model '${name}' is ${handler.state}${handler.reason ? `: ${handler.reason}` : ''}`);
  }
  if (handler.pool.description.mode === 'tensor') {
    throw new ServingError(
      'HANDLER_NOT_FOUND',
      `model '${name}' is a tensor handler (defineTensorHandler): it takes tensors, not JSON; call it with POST /v2/models/${name}/infer`,
    );
  }
  return { handler, pool: handler.pool };
}

function multipartError(error: unknown, config: HandlerConfig, part: string | undefined): ServingError {
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new ServingError('PAYLOAD_TOO_LARGE', `file part '${part}' is larger than ${config.maxFileBytes} bytes (handler.max_file_bytes)`);
    case 'FST_FILES_LIMIT':
      return new ServingError('PAYLOAD_TOO_LARGE', `more than ${config.maxFiles} file parts (handler.max_files)`);
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new ServingError('PAYLOAD_TOO_LARGE', `more than ${MAX_FIELDS} text parts`);
    default:
      return new ServingError('MALFORMED_REQUEST', `malformed multipart body: ${(error as Error).message}`);
  }
}

async function readMultipart(request: FastifyRequest, config: HandlerConfig): Promise<PredictPayload> {
  const fields: Array<{ name: string; value: string }> = [];
  const files: Array<{ name: string; file: UploadedFile }> = [];
  let current: string | undefined;
  try {
    const parts = request.parts({
      limits: { fileSize: config.maxFileBytes, files: config.maxFiles, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: MAX_FIELDS + config.maxFiles },
    });
    for await (const part of parts) {
      current = part.fieldname;
      if (part.type === 'file') {
        const data = await part.toBuffer();
        const file: UploadedFile = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
        if (part.filename) file.filename = part.filename;
        if (part.mimetype) file.mediaType = part.mimetype;
        files.push({ name: part.fieldname, file });
      } else {
        if (part.valueTruncated) throw new ServingError('PAYLOAD_TOO_LARGE', `text part '${part.fieldname}' is larger than ${MAX_FIELD_BYTES} bytes`);
        fields.push({ name: part.fieldname, value: typeof part.value === 'string' ? part.value : String(part.value) });
      }
    }
  } catch (error) {
    if (error instanceof ServingError) throw error;
    throw multipartError(error, config, current);
  }
  return { kind: 'multipart', fields, files };
}

function readRawUpload(request: FastifyRequest<{ Body: Buffer | undefined }>, name: string, fileFields: string[], config: HandlerConfig): PredictPayload {
  const mediaType = request.headers['content-type']!.split(';')[0]!.trim();
  if (fileFields.length !== 1) {
    throw new ServingError(
      'MALFORMED_REQUEST',
      fileFields.length === 0
        ? `the handler of model '${name}' takes no file, so a ${mediaType} body cannot go anywhere; send JSON`
        : `the handler of model '${name}' takes ${fileFields.length} files (${fileFields.join(', ')}); send them as multipart/form-data parts`,
    );
  }
  const body = request.body ?? Buffer.alloc(0);
  if (body.byteLength > config.maxFileBytes) {
    throw new ServingError('PAYLOAD_TOO_LARGE', `uploaded ${mediaType} body is larger than ${config.maxFileBytes} bytes (handler.max_file_bytes)`);
  }
  return { kind: 'file', field: fileFields[0]!, file: { data: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), mediaType } };
}

/**
 * The app-level prediction API over model handlers (a model folder's `handler.ts`):
 *
 * - `GET /api/models`: every model, its kind (`graph` or `pipeline`), state and description, with
 *   the models it `uses` (a pipeline handler's `uses`, a graph's local steps) and which models each is `part_of`;
 * - `GET /api/models/{m}`: one model, with its handler's input and output JSON Schemas;
 * - `POST /api/models/{m}/predict`: runs the handler on a JSON body, a multipart form (files as
 *   parts), or a raw upload (`content-type: image/png`, …) for a handler with one file field.
 *
 * OIP's `/v2/models/{m}/infer` keeps addressing the raw graph.
 *
 * @example
 * import Fastify from 'fastify';
 * import { Slipway, predictRoutes } from 'slipway';
 * const slipway = await Slipway.open({ models: './models' });
 * const app = Fastify();
 * await app.register(predictRoutes, { slipway, prefix: '/ml' }); // POST /ml/api/models/ocr/predict
 */
/** The models a model is made of: those its pipeline handler `uses`, or the local steps of its graph. */
function partsOf(model: Model): readonly string[] {
  if (model.handler !== undefined && model.handler.config.uses.length > 0) return model.handler.config.uses;
  const plan = [...model.versions.values()].find((v) => v.graph !== undefined)?.graph;
  return plan?.dependencies ?? [];
}

export const predictRoutes: FastifyPluginAsync<PredictRoutesOptions> = async (app, options) => {
  const { slipway } = options;
  // Bodies go to the handler's worker as bytes: parsing and validation happen there, off the event loop.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES }, (_req, body, done) =>
    done(null, body),
  );
  await app.register(multipart, { throwFileSizeLimit: true });
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  const base = app.prefix;

  app.get('/api/models', async () => {
    const names = slipway.repository.names();
    const models = names.map((name) => slipway.repository.get(name)!);
    const uses = models.map(partsOf);
    return models.map((model, i) => {
      const description = model.handler?.pool?.description.description;
      const partOf = models.filter((_, j) => uses[j]!.includes(names[i]!)).map((m) => m.name);
      return {
        name: names[i]!,
        kind: modelKind(model),
        state: modelState(model),
        handler:
          model.handler === undefined
            ? null
            : { state: model.handler.state, ...(model.handler.pool?.description.mode === 'tensor' && { mode: 'tensor' as const }) },
        ...(description !== undefined && { description }),
        ...(uses[i]!.length > 0 && { uses: uses[i] }),
        ...(partOf.length > 0 && { part_of: partOf }),
      };
    });
  });

  app.get('/api/models/:model', async (request: FastifyRequest<{ Params: ModelParams }>) => describeModel(slipway, request.params.model, base));

  app.post('/api/models/:model/predict', async (request: FastifyRequest<{ Params: ModelParams; Body: Buffer | undefined }>, reply) => {
    const { model: name } = request.params;
    const { handler, pool } = readyHandler(slipway, name);
    let payload: PredictPayload;
    if (request.isMultipart()) payload = await readMultipart(request, handler.config);
    else if (isJsonType(request.headers['content-type'])) {
      const body = request.body ?? Buffer.alloc(0);
      payload = { kind: 'json', body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
    } else payload = readRawUpload(request, name, pool.description.fileFields, handler.config);
    const started = performance.now();
    // Every model call of this request goes the same way: by the client's sticky key, else by its request id.
    const routing = httpRouting(request);
    const body = await pool.predict(payload, String(request.id), {
      key: routing.routingKey ?? String(request.id),
      ...(routing.version !== undefined && { version: routing.version }),
    });
    reply.header('server-timing', `handler;dur=${(performance.now() - started).toFixed(3)}`);
    return reply.type('application/json; charset=utf-8').send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
};
