// Request bodies compressed with Content-Encoding. Python's requests and Triton's client can send
// gzip; without this hook their bodies reached the JSON parser compressed ("not valid JSON"). A
// compressed body is a zip bomb waiting to happen, so the decoded size is capped twice: by the
// body limit (Fastify counts the decoded bytes) and by a ratio to the bytes actually received.
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, type Gunzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { quoteValue } from '../../errors/quote-value.js';
import { ServingError } from '../../errors/serving-error.js';

export interface ContentEncodingOptions {
  /** Largest decoded/encoded ratio once past `ratioFreeBytes` (413 beyond). Default 100. */
  maxRatio?: number;
  /** Decoded bytes allowed whatever the ratio (small bodies compress well legitimately). Default 1 MiB. */
  ratioFreeBytes?: number;
}

const DECODERS: Record<string, () => Gunzip | ReturnType<typeof createInflate> | ReturnType<typeof createBrotliDecompress>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** The encodings a request body may use (`identity` means none). */
export const SUPPORTED_CONTENT_ENCODINGS = ['gzip', 'deflate', 'br', 'identity'];

/** A stream that Fastify reads the body from: it reports the encoded length it consumed. */
type DecodedStream = Transform & { receivedEncodedLength: number };

/**
 * Decodes `Content-Encoding: gzip | x-gzip | deflate | br` request bodies before any route parses
 * them; other encodings are refused with 415 naming the encoding and the supported ones.
 */
export function decodeContentEncoding(app: FastifyInstance, options: ContentEncodingOptions = {}): void {
  const maxRatio = options.maxRatio ?? 100;
  const ratioFreeBytes = options.ratioFreeBytes ?? 1024 * 1024;
  // Callback style: an async hook costs a promise and a microtask on every request, encoded or not.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const header = request.headers['content-encoding'];
    if (header === undefined) return done(null, payload);
    const encoding = (Array.isArray(header) ? header.join(',') : header).trim().toLowerCase();
    if (encoding === '' || encoding === 'identity') return done(null, payload);
    const decoder = DECODERS[encoding];
    if (decoder === undefined) {
      return done(
        new ServingError(
          'UNSUPPORTED_ENCODING',
          `Content-Encoding ${quoteValue(encoding, 60)} is not supported; send the body uncompressed or with one of gzip, deflate, br`,
        ),
      );
    }
    done(null, decodedBody(payload, decoder(), encoding, maxRatio, ratioFreeBytes));
  });
}

function decodedBody(raw: Readable, decompress: Transform, encoding: string, maxRatio: number, ratioFreeBytes: number): Readable {
  let encodedBytes = 0;
  let decodedBytes = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      decodedBytes += chunk.length;
      if (decodedBytes > ratioFreeBytes && decodedBytes > encodedBytes * maxRatio) {
        callback(
          Object.assign(
            new ServingError(
              'PAYLOAD_TOO_LARGE',
              `the ${encoding} request body expands more than ${maxRatio}× (${encodedBytes} bytes received decoded to over ${decodedBytes}); refused as a likely decompression bomb`,
            ),
            { statusCode: 413 },
          ),
        );
        return;
      }
      callback(null, chunk);
    },
  }) as DecodedStream;
  out.receivedEncodedLength = 0;
  raw.on('data', (chunk: Buffer) => {
    encodedBytes += chunk.length;
    out.receivedEncodedLength = encodedBytes;
  });
  decompress.on('error', (error: Error) => {
    out.destroy(
      Object.assign(new ServingError('MALFORMED_REQUEST', `request body is not valid ${encoding} data (Content-Encoding: ${encoding}): ${error.message}`), {
        statusCode: 400,
      }),
    );
  });
  raw.on('error', (error) => out.destroy(error));
  out.on('error', () => {
    raw.unpipe(decompress);
    decompress.destroy();
  });
  raw.pipe(decompress).pipe(out);
  return out;
}
