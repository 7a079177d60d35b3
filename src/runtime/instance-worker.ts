// Entry point of one model instance's worker thread: owns one engine session and runs requests one
// at a time, so the main thread's event loop never waits on onnxruntime.
import { parentPort, workerData } from 'node:worker_threads';
import { isServingError } from '../errors/serving-error.js';
import type { Engine, EngineFactory } from './engine.js';
import { createOnnxEngine } from './engines/onnx/onnx-engine.js';
import { forTransfer } from '../tensor/transfer.js';
import type { FromWorker, InstanceWorkerData, ToWorker } from './worker-messages.js';

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
    },
    (error: unknown) => {
      const code = isServingError(error) ? error.code : 'INFERENCE_FAILED';
      send({ type: 'error', id: message.id, code, message: (error as Error).message ?? String(error) });
    },
  );
});
