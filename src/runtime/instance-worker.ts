// Entry point of one model instance's worker thread: owns one engine session and runs requests one
// at a time, so the main thread's event loop never waits on onnxruntime.
import { parentPort, workerData } from 'node:worker_threads';
import { isServingError } from '../errors/serving-error.js';
import type { Engine, EngineFactory } from './engine.js';
import { createOnnxEngine } from './engines/onnx/onnx-engine.js';
import { forTransfer } from '../tensor/transfer.js';
import type { FromWorker, InstanceWorkerData, InstanceWorkerStart, ToWorker } from './worker-messages.js';
import { collectGarbageSoon } from './release-memory.js';
import { SharedSlots } from './shared-slots.js';
import type { Tensor } from '../tensor/tensor.js';

/** Inputs this large leave this thread's heap holding them until it next allocates: collect once the burst is over. */
const OUTSIZED_INPUT_BYTES = 16 * 1024 * 1024;

const ENGINES: Record<InstanceWorkerData['platform'], EngineFactory> = {
  onnxruntime_onnx: createOnnxEngine,
};

const port = parentPort;
if (port === null) throw new Error('instance-worker must run as a worker thread');
const data = workerData as InstanceWorkerStart;

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

const slots = data.slots === undefined ? undefined : SharedSlots.attach(data.slots.buffer, data.slots.count, data.slots.dataBytes);
if (slots !== undefined) void serveSlots(slots);

port.on('message', (message: ToWorker) => {
  if (message.type === 'crash') process.exit(70);
  if (message.type === 'close') {
    slots?.orderClose();
    void engine.close().finally(() => port.close());
    return;
  }
  void run(message.id, message.inputs, message.outputNames, undefined);
});

/**
 * Takes posted slots one at a time (onnxruntime holds this thread for each run anyway) and sleeps
 * on the request bell when none is posted. The bell's value is read before looking, so a slot
 * posted while we look rings a bell we will not sleep through.
 */
async function serveSlots(shared: SharedSlots): Promise<void> {
  for (;;) {
    if (shared.crashOrdered) process.exit(70);
    if (shared.closeOrdered) return;
    const seen = shared.requestBell;
    const slot = shared.take();
    if (slot === undefined) {
      await shared.waitForRequest(seen);
      continue;
    }
    // kill() orders the crash before it posts anything, so a slot taken after the order is seen here.
    if (shared.crashOrdered) process.exit(70);
    const request = shared.read(slot);
    await run(request.id, request.outputs, request.outputNames, slot);
  }
}

/**
 * Runs one batch and answers it: into its slot when it came in one and the outputs fit, otherwise
 * by message (an error, an answer larger than the slot, or a batch that came by message).
 */
async function run(id: number, inputs: Tensor[], outputNames: string[], slot: number | undefined): Promise<void> {
  // Wall-clock milliseconds (µs precision) so the main thread can split its round trip into
  // input hop, compute and output hop: both threads share timeOrigin + now(), not now() alone.
  const startedMs = performance.timeOrigin + performance.now();
  let outputs: Tensor[];
  try {
    outputs = await engine.run(inputs, outputNames);
  } catch (error) {
    const code = isServingError(error) ? error.code : 'INFERENCE_FAILED';
    send({ type: 'error', id, code, message: (error as Error).message ?? String(error) });
    return;
  }
  const endedMs = performance.timeOrigin + performance.now();
  if (slot !== undefined && slots!.write(slot, id, outputs, [], startedMs, endedMs)) slots!.answer(slot);
  else {
    const { tensors, transfer } = forTransfer(outputs, true);
    send({ type: 'result', id, outputs: tensors, startedMs, endedMs }, transfer);
  }
  let bytes = 0;
  for (const input of inputs) if (ArrayBuffer.isView(input.data)) bytes += input.data.byteLength;
  if (bytes >= OUTSIZED_INPUT_BYTES) collectGarbageSoon();
}
