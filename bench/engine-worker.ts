// Scenario (a), one thread's share: the work any server must do for OIP JSON, with nothing else.
// Decode `batch` request bodies, concatenate, run onnxruntime, slice, encode `batch` responses;
// repeat for `durationMs` and report items per second.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { decodeInferRequest, encodeInferResponse, parseJsonBody } from '../src/protocol/http/oip-json.js';
import { concatInputs, sliceOutputs } from '../src/scheduler/batch-assembly.js';
import type { Tensor } from '../src/tensor/tensor.js';

export interface EngineWorkerData {
  modelPath: string;
  body: Uint8Array;
  batch: number;
  threads: number;
  durationMs: number;
}

export async function engineLoop(data: EngineWorkerData): Promise<number> {
  const session = await ort.InferenceSession.create(data.modelPath, { intraOpNumThreads: data.threads, interOpNumThreads: 1, executionMode: 'sequential' });
  const body = Buffer.from(data.body);
  const once = async (): Promise<void> => {
    const requests = Array.from({ length: data.batch }, () => decodeInferRequest(parseJsonBody(body), 'm'));
    const inputs = data.batch === 1 ? requests[0]!.inputs : concatInputs(requests.map((r) => ({ inputs: r.inputs, batchSize: r.inputs[0]!.shape[0]! })));
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) feeds[t.name] = new ort.Tensor('float32', t.data as Float32Array, t.shape);
    const results = await session.run(feeds);
    const outputs: Tensor[] = Object.entries(results).map(([name, t]) => ({ name, datatype: 'FP32', shape: [...t.dims], data: t.data as Float32Array }));
    const perRequest = data.batch === 1 ? [outputs] : sliceOutputs(outputs, requests.map((r) => r.inputs[0]!.shape[0]!));
    for (const o of perRequest) encodeInferResponse({ model_name: 'm', model_version: '1', outputs: o });
  };
  for (let i = 0; i < 3; i++) await once();
  let items = 0;
  const started = performance.now();
  while (performance.now() - started < data.durationMs) {
    await once();
    items += data.batch;
  }
  await session.release();
  return (items / (performance.now() - started)) * 1000;
}

if (parentPort !== null) parentPort.postMessage(await engineLoop(workerData as EngineWorkerData));
