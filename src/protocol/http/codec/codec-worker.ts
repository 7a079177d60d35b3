// A JSON codec thread: parses large OIP request bodies into typed arrays and writes large responses,
// so a 40 MB tensor costs the main thread a message, not half a second of JSON.
import { parentPort } from 'node:worker_threads';
import { toServingError } from '../../../errors/serving-error.js';
import { forTransfer } from '../../../tensor/transfer.js';
import { decodeInferRequest, encodeInferResponse, parseJsonBody } from '../oip-json.js';
import type { FromCodec, ToCodec } from './codec-messages.js';

const port = parentPort;
if (port === null) throw new Error('codec-worker must run as a worker thread');

port.on('message', (message: ToCodec) => {
  try {
    if (message.type === 'decode') {
      const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
      const request = decodeInferRequest(parseJsonBody(body), message.model, message.version);
      const { tensors, transfer } = forTransfer(request.inputs, true);
      const reply: FromCodec = { type: 'decoded', id: message.id, request: { ...request, inputs: tensors } };
      port.postMessage(reply, transfer);
    } else {
      const body = Buffer.from(encodeInferResponse(message.response));
      const reply: FromCodec = { type: 'encoded', id: message.id, body };
      // Buffer.from(string) may sit in Node's shared pool only when small; large ones own their memory.
      port.postMessage(reply, body.byteLength === body.buffer.byteLength ? [body.buffer as ArrayBuffer] : []);
    }
  } catch (error) {
    const serving = toServingError(error);
    // An unexpected throwable (a RangeError, a bug) is logged by the main thread with this stack:
    // a worker's error is otherwise lost with the thread's context.
    const stack = serving === error ? undefined : error instanceof Error ? (error.stack ?? error.message) : String(error);
    port.postMessage({ type: 'failed', id: message.id, code: serving.code, message: serving.message, ...(stack !== undefined && { stack }) } satisfies FromCodec);
  }
});
