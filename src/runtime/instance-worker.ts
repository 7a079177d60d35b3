// Entry point of one model instance's worker thread: owns one engine session and runs requests one
// at a time, so the main thread's event loop never waits on onnxruntime.
import { parentPort, workerData } from 'node:worker_threads';
import { isServingError } from '../errors/serving-error.js';
import type { Engine, EngineFactory } from './engine.js';
import { createOnnxEngine } from './engines/onnx/onnx-engine.js';
import { forTransfer } from '../tensor/transfer.js';
import type { FromWorker, InstanceWorkerData, ToWorker } from './worker-messages.js';
import { collectGarbageSoon } from './release-memory.js';

/** Inputs this large leave this thread's heap holding them until it next allocates: collect once the burst is over. */
const OUTSIZED_INPUT_BYTES = 16 * 1024 * 1024;

const ENGINES: Record<InstanceWorkerData['platform'], EngineFactory> = {
  onnxruntime_onnx: createOnnxEngine,
};

const port = parentPort;
if (port === null) throw new Error('instance-worker must run as a worker thread');
const data = workerData as InstanceWorkerData;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

let engine: Engine;
try {
  engine = await ENGINES[data.platform](data.modelPath, { intraOpThreads: data.intraOpThreads });
  send({ type: 'ready', signature: engine.signature });
} catch (error) {
  send({ type: 'load-error', message: (error as Error).message });
  process.exit(0);
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'crash') process.exit(70);
  if (message.type === 'close') {
    void engine.close().finally(() => port.close());
    return;
  }
  // Wall-clock milliseconds (µs precision) so the main thread can split its round trip into
  // input hop, compute and output hop: both threads share timeOrigin + now(), not now() alone.
  const startedMs = performance.timeOrigin + performance.now();
  engine.run(message.inputs, message.outputNames).then(
    (outputs) => {
      const endedMs = performance.timeOrigin + performance.now();
      const { tensors, transfer } = forTransfer(outputs, true);
      send({ type: 'result', id: message.id, outputs: tensors, startedMs, endedMs }, transfer);
      let bytes = 0;
      for (const input of message.inputs) if (ArrayBuffer.isView(input.data)) bytes += input.data.byteLength;
      if (bytes >= OUTSIZED_INPUT_BYTES) collectGarbageSoon();
    },
    (error: unknown) => {
      const code = isServingError(error) ? error.code : 'INFERENCE_FAILED';
      send({ type: 'error', id: message.id, code, message: (error as Error).message ?? String(error) });
    },
  );
});
