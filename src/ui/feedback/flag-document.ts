import { createHash } from 'node:crypto';
import { ServingError } from '../../errors/serving-error.js';
import type { FeedbackBlob } from './feedback-store.js';

/** The key of a blob reference: `{"$blob": "<sha256>", "media_type": …, "bytes": …}`. */
export const BLOB_KEY = '$blob';
/** The key of a client's file placeholder: `{"$file": "<multipart part name>"}`. */
export const FILE_KEY = '$file';
/**
 * JSON documents (an input or an output) larger than this are stored once as blobs: raw tensors and
 * long texts are what people flag again and again (the same example, tried twice), and flag rows
 * stay small enough to list.
 */
export const INLINE_DOCUMENT_BYTES = 64 * 1024;

export interface BlobRef {
  $blob: string;
  media_type: string;
  bytes: number;
  filename?: string;
}

/** A file the client sent with its flag (a multipart part). */
export interface FlagFile {
  data: Uint8Array;
  mediaType?: string;
  filename?: string;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const SIGNATURES: Array<{ type: string; test: (b: Uint8Array) => boolean }> = [
  { type: 'image/png', test: (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 },
  { type: 'image/jpeg', test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { type: 'image/gif', test: (b) => b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 },
  { type: 'image/webp', test: (b) => String.fromCharCode(...b.subarray(0, 4)) === 'RIFF' && String.fromCharCode(...b.subarray(8, 12)) === 'WEBP' },
];

/**
 * The media type to record for a file: what its bytes are when they are a common image (so the
 * flags page can show it whatever the client declared), else what the client declared.
 */
export function mediaTypeOf(file: FlagFile): string {
  const sniffed = SIGNATURES.find((s) => s.test(file.data))?.type;
  if (sniffed !== undefined) return sniffed;
  const declared = file.mediaType?.split(';')[0]?.trim().toLowerCase();
  return declared !== undefined && /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(declared) ? declared : 'application/octet-stream';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects blobs by SHA-256 while a flag's documents are prepared. */
export class FlagBlobs {
  readonly blobs = new Map<string, FeedbackBlob>();
  private readonly used = new Set<string>();

  constructor(private readonly files: ReadonlyMap<string, FlagFile>) {}

  private add(data: Uint8Array, mediaType: string): string {
    const sha256 = sha256Hex(data);
    if (!this.blobs.has(sha256)) this.blobs.set(sha256, { sha256, mediaType, data });
    return sha256;
  }

  /**
   * Replaces every `{"$file": part}` in a client document with a reference to the part's blob.
   * `path` names the document in messages (`input.image`).
   */
  resolveFiles(document: unknown, path: string): unknown {
    if (Array.isArray(document)) return document.map((item, i) => this.resolveFiles(item, `${path}[${i}]`));
    if (!isPlainObject(document)) return document;
    if (BLOB_KEY in document) {
      throw new ServingError('INVALID_INPUT', `${path}: "${BLOB_KEY}" is reserved for stored files; send the file as a multipart part and refer to it with {"${FILE_KEY}": "<part name>"}`);
    }
    if (FILE_KEY in document) {
      const part = document[FILE_KEY];
      if (typeof part !== 'string' || Object.keys(document).length !== 1) {
        throw new ServingError('INVALID_INPUT', `${path}: a file placeholder is {"${FILE_KEY}": "<part name>"} and nothing else`);
      }
      const file = this.files.get(part);
      if (file === undefined) {
        const sent = [...this.files.keys()];
        throw new ServingError('INVALID_INPUT', `${path} refers to file part '${part}', which the request does not have (it has: ${sent.join(', ') || 'no file parts'})`);
      }
      this.used.add(part);
      const mediaType = mediaTypeOf(file);
      const ref: BlobRef = { $blob: this.add(file.data, mediaType), media_type: mediaType, bytes: file.data.byteLength };
      if (file.filename !== undefined && file.filename !== '') ref.filename = file.filename;
      return ref;
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(document)) out[key] = this.resolveFiles(value, `${path}.${key}`);
    return out;
  }

  /** The document itself when small, else a reference to it stored as an `application/json` blob. */
  storeDocument(document: unknown): unknown {
    const text = Buffer.from(JSON.stringify(document), 'utf8');
    if (text.byteLength <= INLINE_DOCUMENT_BYTES) return document;
    const data = new Uint8Array(text.buffer, text.byteOffset, text.byteLength);
    return { $blob: this.add(data, 'application/json'), media_type: 'application/json', bytes: data.byteLength } satisfies BlobRef;
  }

  /** File parts no document referred to: refused, so nothing the client meant to store is silently dropped. */
  unusedParts(): string[] {
    return [...this.files.keys()].filter((name) => !this.used.has(name));
  }
}

/** Every `$blob` SHA-256 a JSON document refers to. */
export function blobRefs(document: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(document)) for (const item of document) blobRefs(item, found);
  else if (isPlainObject(document)) {
    const sha = document[BLOB_KEY];
    if (typeof sha === 'string') found.add(sha);
    for (const value of Object.values(document)) blobRefs(value, found);
  }
  return found;
}
