import { z } from 'zod';

/**
 * An uploaded file as a handler receives it: a multipart part, a raw request body, or a base64 /
 * data-URL string in a JSON body, all decoded to bytes.
 */
export interface UploadedFile {
  data: Uint8Array;
  /** The name the client gave (multipart only). */
  filename?: string;
  /** The media type the client declared (`image/png`, …); a declaration, not a guarantee. */
  mediaType?: string;
}

/** JSON Schema keyword marking file fields, so the HTTP layer knows which fields take uploads. */
export const FILE_FIELD_KEYWORD = 'x-slipway-file';

/** The zod issue parameter that turns a validation failure into 413 instead of 400. */
export const TOO_LARGE_PARAM = 'slipwayTooLarge';

export interface FileOptions {
  /** Largest decoded file, in bytes (413 beyond). The server's `handler.max_file_bytes` also applies. */
  maxBytes?: number;
  description?: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_URL = /^[A-Za-z0-9_-]*={0,2}$/;
const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),/;

export function isUploadedFile(value: unknown): value is UploadedFile {
  return typeof value === 'object' && value !== null && (value as { data?: unknown }).data instanceof Uint8Array;
}

/** Base64 to bytes with Node's Buffer where there is one (fast on large uploads), else atob (browsers). */
function base64Bytes(payload: string, urlSafe: boolean): Uint8Array {
  const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (NodeBuffer !== undefined) return new Uint8Array(NodeBuffer.from(payload, urlSafe ? 'base64url' : 'base64'));
  const binary = atob(urlSafe ? payload.replace(/-/g, '+').replace(/_/g, '/') : payload);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Decodes a JSON file value: `data:<type>;base64,<data>` or bare base64 (standard or URL-safe). */
export function fileFromString(text: string): UploadedFile | string {
  let payload = text;
  let mediaType: string | undefined;
  const dataUrl = DATA_URL.exec(text);
  if (dataUrl !== null) {
    if (!dataUrl[2]!.split(';').includes('base64')) return 'a data: URL must be base64-encoded (data:<type>;base64,...)';
    mediaType = dataUrl[1] || undefined;
    payload = text.slice(dataUrl[0].length);
  }
  payload = payload.replace(/\s+/g, '');
  if (payload.length === 0) return 'the file is empty';
  if (!BASE64.test(payload) && !BASE64_URL.test(payload)) {
    return 'expected a file: base64 text, a data: URL, or a multipart file part';
  }
  const data = base64Bytes(payload, !BASE64.test(payload));
  return mediaType === undefined ? { data } : { data, mediaType };
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** An issue that answers 413 (see TOO_LARGE_PARAM). */
export function tooLargeIssue(message: string, input: unknown): z.core.$ZodRawIssue {
  return { code: 'custom', message, input, params: { [TOO_LARGE_PARAM]: true } };
}

/**
 * Checks a raw field value and turns it into an UploadedFile; problems become zod issues on the
 * field (and undefined is returned).
 */
export function toUploadedFile(value: unknown, ctx: z.RefinementCtx, options: FileOptions): UploadedFile | undefined {
  const file = typeof value === 'string' ? fileFromString(value) : value;
  const problem = (message: string): undefined => {
    ctx.issues.push({ code: 'custom', message, input: value });
    return undefined;
  };
  if (typeof file === 'string') return problem(file);
  if (!isUploadedFile(file)) return problem('expected a file: base64 text, a data: URL, or a multipart file part');
  if (file.data.byteLength === 0) return problem('the file is empty');
  if (options.maxBytes !== undefined && file.data.byteLength > options.maxBytes) {
    ctx.issues.push(tooLargeIssue(`file is ${formatBytes(file.data.byteLength)}, more than the limit of ${formatBytes(options.maxBytes)}`, value));
    return undefined;
  }
  return file;
}

/** The JSON Schema a file field shows: a binary string (multipart) that JSON bodies send as base64. */
export function fileJsonSchema(kind: 'file' | 'image', description: string): Record<string, unknown> {
  return { type: 'string', format: 'binary', contentEncoding: 'base64', description, [FILE_FIELD_KEYWORD]: kind };
}

/**
 * A schema field that takes an uploaded file: a multipart file part, the raw request body, or in
 * JSON a base64 string or `data:` URL. Handlers receive an `UploadedFile`.
 *
 * @example
 * import { defineHandler, file, z } from 'slipway';
 * export default defineHandler({
 *   input: z.object({ document: file({ maxBytes: 5_000_000 }) }),
 *   output: z.object({ bytes: z.number() }),
 *   predict: ({ document }) => ({ bytes: document.data.byteLength }),
 * });
 */
export function file(options: FileOptions = {}) {
  const description = options.description ?? 'a file: a multipart file part, or base64 / a data: URL in JSON';
  return z
    .custom<UploadedFile | string>((v) => typeof v === 'string' || isUploadedFile(v), {
      error: 'expected a file: base64 text, a data: URL, or a multipart file part',
    })
    .transform((value, ctx) => toUploadedFile(value, ctx, options) ?? z.NEVER)
    .meta(fileJsonSchema('file', description));
}
