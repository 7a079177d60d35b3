import * as ort from 'onnxruntime-node';
import { ServingError } from '../../../errors/serving-error.js';
import { DATATYPE_INFO, datatypeFromOnnx } from '../../../tensor/datatypes.js';
import type { Tensor } from '../../../tensor/tensor.js';
import type { Engine, EngineFactory, EngineOptions, EngineSignature, GraphTensor } from '../../engine.js';

type ValueMetadata = ort.InferenceSession.ValueMetadata;

function graphTensor(meta: ValueMetadata): GraphTensor {
  if (!meta.isTensor) return { name: meta.name, onnxType: 'non-tensor', dims: [] };
  return {
    name: meta.name,
    onnxType: meta.type,
    dims: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)),
  };
}

/** onnxruntime-node engine. Only ever constructed inside a worker thread (its calls block the thread). */
export class OnnxEngine implements Engine {
  readonly signature: EngineSignature;

  private constructor(private readonly session: ort.InferenceSession) {
    this.signature = {
      inputs: session.inputMetadata.map(graphTensor),
      outputs: session.outputMetadata.map(graphTensor),
    };
  }

  static async create(modelPath: string, options: EngineOptions): Promise<OnnxEngine> {
    const session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // onnxruntime's own stderr lines would duplicate (unstructured) the errors we raise and log.
      logSeverityLevel: 4,
    });
    return new OnnxEngine(session);
  }

  async run(inputs: Tensor[], outputNames: string[]): Promise<Tensor[]> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) {
      // The cast only quiets ort's overloads: DATATYPE_INFO pairs each onnx type with the array it needs.
      feeds[t.name] = new ort.Tensor(DATATYPE_INFO[t.datatype].onnxType as 'float32', t.data as Float32Array, t.shape);
    }
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await this.session.run(feeds, outputNames);
    } catch (error) {
      // onnxruntime's messages name the node and the shapes; they are the best explanation we have.
      throw new ServingError('INFERENCE_FAILED', `onnxruntime failed: ${(error as Error).message}`);
    }
    return outputNames.map((name) => {
      const value = results[name];
      if (value === undefined) throw new ServingError('INFERENCE_FAILED', `onnxruntime returned no output '${name}'`);
      const datatype = datatypeFromOnnx(value.type);
      if (datatype === undefined) {
        throw new ServingError('INFERENCE_FAILED', `output '${name}' has element type '${value.type}' which OIP cannot carry`);
      }
      return { name, datatype, shape: value.dims.slice(), data: value.data as Tensor['data'] };
    });
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

export const createOnnxEngine: EngineFactory = (modelPath, options) => OnnxEngine.create(modelPath, options);
