// The on-device runtime's thread: onnxruntime-web and the handler run here, never on the page's
// own thread, so a long inference (an OCR page) does not freeze the page. slipway.ts talks to it.
import { DeviceError, DeviceRuntime } from './device-runtime.js';
import type { FromDevice, ToDevice } from './worker-messages.js';

const scope = self as unknown as { onmessage: ((event: MessageEvent<ToDevice>) => void) | null; postMessage(message: FromDevice): void };
let runtime: DeviceRuntime | undefined;

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.type) {
    case 'load':
      void load(message);
      return;
    case 'predict':
    case 'infer':
      void answer(message);
      return;
  }
};

async function load(message: Extract<ToDevice, { type: 'load' }>): Promise<void> {
  const candidate = new DeviceRuntime(message.manifest, new URL(message.baseUrl));
  try {
    await candidate.load(message.backend, message.threads);
    runtime = candidate;
    scope.postMessage({ type: 'loaded', backend: candidate.backend, threads: candidate.threads });
  } catch (error) {
    // onnxruntime-web throws plain errors ("no available backend found. ERR: [wasm] ..."); say where.
    const reason = error instanceof DeviceError ? error.message : `the model could not start on this device: ${(error as Error).message ?? String(error)}`;
    scope.postMessage({ type: 'load-failed', reason });
  }
}

async function answer(message: Extract<ToDevice, { type: 'predict' | 'infer' }>): Promise<void> {
  if (runtime === undefined) {
    scope.postMessage({ type: 'error', id: message.id, code: 'MODEL_NOT_READY', message: 'the on-device model is not loaded', deviceFault: true });
    return;
  }
  try {
    const output = message.type === 'predict' ? await runtime.predict(message.input) : await runtime.infer(message.body);
    scope.postMessage({ type: 'result', id: message.id, output });
  } catch (error) {
    scope.postMessage({ type: 'error', id: message.id, ...runtime.failure(error) });
  }
}
