import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { formatIssues } from '../config/format-issues.js';
import { ServingError } from '../errors/serving-error.js';
import { sendError } from '../protocol/http/error-reply.js';
import type { Slipway } from '../slipway.js';
import { exportFlags, flagRecord } from './feedback/feedback-export.js';
import { FLAG_LABELS, type FeedbackStore } from './feedback/feedback-store.js';
import { FlagBlobs, type FlagFile } from './feedback/flag-document.js';

/** Hands out the store; throws DATABASE_UNAVAILABLE (with the reason) while there is none. */
export interface FeedbackSource {
  get(): Promise<FeedbackStore>;
}

export interface FeedbackRoutesOptions {
  slipway: Slipway;
  feedback: FeedbackSource;
  /** Largest multipart flag (its files and its JSON together), in bytes (413 beyond). Default 64 MiB. */
  maxFileBytes?: number;
  /** Clock for `created_at` (tests). */
  now?: () => Date;
}

const MAX_FILES = 16;
const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

// PostgreSQL text cannot hold NUL; refusing it here keeps both stores equal and nothing half-saved.
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

const present = (what: string) => z.unknown().refine((v) => v !== undefined, `the ${what} that was flagged is required`);

/** The JSON a client sends to flag a result (the `flag` part of a multipart body, or the whole JSON body). */
export const flagRequestSchema = z.strictObject({
  model: text(256).min(1),
  model_version: text(64).min(1).nullish().describe('the version that answered; the newest READY one when absent'),
  api: z.enum(['predict', 'infer']).describe('predict: /api/models/{m}/predict; infer: /v2/models/{m}/infer'),
  label: z.enum(FLAG_LABELS as [string, ...string[]]).describe('right, wrong or other'),
  expected: text(2000).nullish().describe('what the answer should have been'),
  comment: text(10_000).default(''),
  latency_ms: z.number().finite().nonnegative().nullish(),
  input: present('input').describe('the request as sent; files as {"$file": "<multipart part name>"}'),
  output: present('output').describe('the response as received'),
});

const listQuerySchema = z.strictObject({
  model: z.string().min(1).optional(),
  label: z.enum(FLAG_LABELS as [string, ...string[]]).optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const exportQuerySchema = z.strictObject({
  format: z.enum(['csv', 'jsonl']).default('csv'),
  model: z.string().min(1).optional(),
  label: z.enum(FLAG_LABELS as [string, ...string[]]).optional(),
});

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ServingError('INVALID_INPUT', `invalid ${what}: ${formatIssues(result.error).join('; ')}`);
  return result.data;
}

// Files people upload are served back from this origin: only types a browser cannot run as a page
// are served as themselves, everything else as a download.
const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/json', 'text/plain']);

async function readFlagRequest(request: FastifyRequest, maxFileBytes: number): Promise<{ flag: unknown; files: Map<string, FlagFile> }> {
  const files = new Map<string, FlagFile>();
  if (!request.isMultipart()) return { flag: request.body, files };
  let flagText: string | undefined;
  let current: string | undefined;
  // Parts are held in memory until the flag is stored: bound them all together, not just each one.
  let total = 0;
  try {
    const parts = request.parts({ limits: { fileSize: maxFileBytes, files: MAX_FILES + 1, fields: 4, fieldSize: 16 * 1024 * 1024 } });
    for await (const part of parts) {
      current = part.fieldname;
      const value = part.type === 'file' ? await part.toBuffer() : String(part.value);
      total += value.length;
      if (total > maxFileBytes) throw new ServingError('PAYLOAD_TOO_LARGE', `the flag's parts come to more than ${maxFileBytes} bytes`);
      if (part.fieldname === 'flag') {
        flagText = typeof value === 'string' ? value : value.toString('utf8');
        continue;
      }
      if (part.type !== 'file') throw new ServingError('INVALID_INPUT', `unexpected text part '${part.fieldname}': the flag goes in the 'flag' part, files in file parts`);
      if (files.has(part.fieldname)) throw new ServingError('INVALID_INPUT', `two file parts are named '${part.fieldname}'`);
      const data = value as Buffer;
      const file: FlagFile = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
      if (part.mimetype) file.mediaType = part.mimetype;
      if (part.filename) file.filename = part.filename;
      files.set(part.fieldname, file);
    }
  } catch (error) {
    if (error instanceof ServingError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'FST_REQ_FILE_TOO_LARGE') throw new ServingError('PAYLOAD_TOO_LARGE', `file part '${current}' is larger than ${maxFileBytes} bytes`);
    if (code === 'FST_FILES_LIMIT') throw new ServingError('PAYLOAD_TOO_LARGE', `more than ${MAX_FILES} file parts`);
    throw new ServingError('MALFORMED_REQUEST', `malformed multipart body: ${(error as Error).message}`);
  }
  if (flagText === undefined) throw new ServingError('INVALID_INPUT', "the multipart body has no 'flag' part (the flag as JSON)");
  try {
    return { flag: JSON.parse(flagText), files };
  } catch (error) {
    throw new ServingError('MALFORMED_REQUEST', `the 'flag' part is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * The feedback API behind the prototype UI's "flag" control:
 *
 * - `POST /api/feedback`: a flag as JSON, or multipart with a `flag` JSON part and the input's
 *   files as file parts (referred to from `input` as `{"$file": "<part>"}`); answers 201 with it;
 * - `GET /api/feedback?model=&label=&before=&limit=`: flags, newest first, with a cursor;
 * - `GET /api/feedback/{id}`, `GET /api/feedback/blobs/{sha256}`: one flag, one stored file;
 * - `GET /api/feedback/export?format=csv|jsonl&model=&label=`: every matching flag, streamed.
 *
 * Files and documents over 64 KiB are stored once per SHA-256 however often they are flagged.
 *
 * @example
 * const store = await openFeedbackStore('sqlite:./feedback.db');
 * await app.register(feedbackRoutes, { slipway, feedback: { get: async () => store } });
 */
export const feedbackRoutes: FastifyPluginAsync<FeedbackRoutesOptions> = async (app, options) => {
  const { slipway } = options;
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const now = options.now ?? (() => new Date());
  await app.register(multipart, { throwFileSizeLimit: true });
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));

  const store = (): Promise<FeedbackStore> => options.feedback.get();

  app.post('/api/feedback', async (request, reply) => {
    const feedback = await store();
    const { flag: body, files } = await readFlagRequest(request, maxFileBytes);
    const flag = parse(flagRequestSchema, body, 'flag');
    const model = slipway.repository.get(flag.model);
    if (model === undefined) {
      throw new ServingError('MODEL_NOT_FOUND', `model: unknown model '${flag.model}'; serving: ${slipway.repository.names().join(', ') || 'nothing'}`);
    }
    const blobs = new FlagBlobs(files);
    const input = blobs.storeDocument(blobs.resolveFiles(flag.input, 'input'));
    const output = blobs.storeDocument(blobs.resolveFiles(flag.output, 'output'));
    const unused = blobs.unusedParts();
    if (unused.length > 0) {
      throw new ServingError('INVALID_INPUT', `file part${unused.length > 1 ? 's' : ''} ${unused.map((u) => `'${u}'`).join(', ')} not referred to by input or output (use {"$file": "<part name>"})`);
    }
    const ready = [...model.versions.values()].filter((v) => v.state === 'READY').map((v) => v.version);
    const stored = await feedback.addFlag(
      {
        createdAt: now().toISOString(),
        model: flag.model,
        modelVersion: flag.model_version ?? (ready.length > 0 ? String(Math.max(...ready)) : null),
        api: flag.api,
        label: flag.label as 'right' | 'wrong' | 'other',
        expected: flag.expected ?? null,
        comment: flag.comment,
        latencyMs: flag.latency_ms ?? null,
        input,
        output,
      },
      [...blobs.blobs.values()],
    );
    request.log.info({ event: 'feedback_flag', id: stored.id, model: stored.model, label: stored.label }, 'feedback flag stored');
    return reply.code(201).send(flagRecord(stored));
  });

  app.get('/api/feedback', async (request) => {
    const query = parse(listQuerySchema, request.query, 'query');
    const filter = { ...(query.model !== undefined && { model: query.model }), ...(query.label !== undefined && { label: query.label as 'right' }) };
    const feedback = await store();
    const [flags, total] = await Promise.all([
      feedback.listFlags({ ...filter, limit: query.limit, ...(query.before !== undefined && { beforeId: query.before }) }),
      feedback.countFlags(filter),
    ]);
    return {
      flags: flags.map(flagRecord),
      total,
      next_before: flags.length === query.limit ? flags.at(-1)!.id : null,
      store: feedback.location.startsWith('sqlite:') ? 'sqlite' : 'postgres',
    };
  });

  app.get('/api/feedback/export', async (request, reply) => {
    const query = parse(exportQuerySchema, request.query, 'query');
    const feedback = await store();
    const filter = { ...(query.model !== undefined && { model: query.model }), ...(query.label !== undefined && { label: query.label as 'right' }) };
    // Fail before the 200 goes out if the store cannot answer.
    await feedback.countFlags(filter);
    const stamp = now().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    return reply
      .type(query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="feedback-${stamp}.${query.format}"`)
      .send(Readable.from(exportFlags(feedback, query.format, filter)));
  });

  app.get('/api/feedback/blobs/:sha256', async (request: FastifyRequest<{ Params: { sha256: string } }>, reply) => {
    const { sha256 } = request.params;
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ServingError('INVALID_INPUT', `sha256: expected 64 lower-case hex digits, got '${sha256.slice(0, 80)}'`);
    const blob = await (await store()).getBlob(sha256);
    if (blob === undefined) throw new ServingError('FEEDBACK_NOT_FOUND', `no stored file has SHA-256 ${sha256}`);
    const inline = INLINE_TYPES.has(blob.mediaType);
    if (!inline) reply.header('content-disposition', `attachment; filename="${sha256}"`);
    return reply
      .type(inline ? blob.mediaType : 'application/octet-stream')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      // Content-addressed: the bytes behind a name never change.
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('etag', `"${sha256}"`)
      .send(Buffer.from(blob.data.buffer, blob.data.byteOffset, blob.data.byteLength));
  });

  app.get('/api/feedback/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const id = Number(request.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new ServingError('INVALID_INPUT', `id: expected a positive integer, got '${request.params.id.slice(0, 80)}'`);
    const flag = await (await store()).getFlag(id);
    if (flag === undefined) throw new ServingError('FEEDBACK_NOT_FOUND', `no feedback flag has id ${id}`);
    return flagRecord(flag);
  });
};
