// TensorFlow Serving's REST API (and Vertex AI's custom-container contract, which uses its request
// and response bodies): row-format `instances` or columnar `inputs`, answered with `predictions` or
// `outputs`; `{"b64": …}` for binary strings. Decodes into the one internal request.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelConfig } from '../../../config/model-config.js';
import { ServingError } from '../../../errors/serving-error.js';
import type { Slipway } from '../../../slipway.js';
import type { InferenceRequest, InferenceResponse } from '../../../tensor/inference.js';
import type { Datatype } from '../../../tensor/datatypes.js';
import { httpRouting } from '../http-routing.js';
import { parseJsonBody } from '../oip-json.js';
import { checkBody, tfPredictRequestSchema } from '../openapi/schemas.js';
import {
  MODEL_HEADER,
  columnsJson,
  configOf,
  isPlainObject,
  pickModel,
  predictionsJson,
  tensorsFromColumns,
  tensorsFromInstances,
  type BytesStyle,
} from './dialect-tensors.js';

export interface TfServingOptions {
  /** Vertex AI's `AIP_PREDICT_ROUTE`: a predict route for the default model. */
  vertexPredictRoute?: string;
  /** Vertex AI's `AIP_HEALTH_ROUTE`: answers 200 once the server is ready. */
  vertexHealthRoute?: string;
  /** The model Vertex's routes (which name none) go to when several are served. */
  defaultModel?: string;
}

const malformed = (message: string): ServingError => new ServingError('MALFORMED_REQUEST', message);

/** TF Serving writes string outputs whose name ends in `_bytes` as `{"b64": …}`. */
const tfBytes: BytesStyle = (name) => (name.endsWith('_bytes') ? 'b64' : 'text');

/** Which of TF's two request forms a body uses, and its tensors. */
export function decodePredictBody(body: unknown, config: ModelConfig): { request: Omit<InferenceRequest, 'model'>; columnar: boolean } {
  if (Array.isArray(body)) return { request: { inputs: tensorsFromInstances(config, body, 'instances'), transferInputs: true }, columnar: false };
  if (!isPlainObject(body)) throw malformed('the body must be a JSON object with "instances" (rows) or "inputs" (columns)');
  const { instances, inputs } = checkBody(tfPredictRequestSchema, body, 'predict request');
  if (instances !== undefined && inputs !== undefined) throw malformed('give "instances" (rows) or "inputs" (columns), not both');
  if (instances !== undefined) return { request: { inputs: tensorsFromInstances(config, instances, 'instances'), transferInputs: true }, columnar: false };
  if (inputs !== undefined) return { request: { inputs: tensorsFromColumns(config, inputs, 'inputs'), transferInputs: true }, columnar: true };
  throw malformed('the body has neither "instances" (rows) nor "inputs" (columns)');
}

/** `{"predictions": …}` for row requests, `{"outputs": …}` for columnar ones. */
export function encodePredictResponse(response: InferenceResponse, columnar: boolean): string {
  return columnar ? `{"outputs":${columnsJson(response.outputs, tfBytes)}}` : `{"predictions":${predictionsJson(response.outputs, tfBytes)}}`;
}

const TF_DTYPE: Readonly<Record<Datatype, string>> = {
  BOOL: 'DT_BOOL',
  UINT8: 'DT_UINT8',
  UINT16: 'DT_UINT16',
  UINT32: 'DT_UINT32',
  UINT64: 'DT_UINT64',
  INT8: 'DT_INT8',
  INT16: 'DT_INT16',
  INT32: 'DT_INT32',
  INT64: 'DT_INT64',
  FP16: 'DT_HALF',
  FP32: 'DT_FLOAT',
  FP64: 'DT_DOUBLE',
  BYTES: 'DT_STRING',
};

/** TF's model status states for Slipway's lifecycle states. */
const TF_STATE = { LOADING: 'LOADING', READY: 'AVAILABLE', UNLOADING: 'UNLOADING', UNAVAILABLE: 'END' } as const;

/** `name[/versions/N]:verb` from the part of the path after /v1/models/. */
function parseModelPath(path: string): { model: string; version?: string; verb?: string } {
  const match = /^([^/:]+)(?:\/versions\/([^/:]+))?(?::([A-Za-z]+))?(\/metadata)?$/.exec(path);
  if (match === null) throw new ServingError('ROUTE_NOT_FOUND', `no TF Serving route for /v1/models/${path}; expected /v1/models/{model}[/versions/{n}][:predict|/metadata]`);
  const [, model, version, verb, metadata] = match;
  const action = verb ?? (metadata !== undefined ? 'metadata' : undefined);
  return { model: model!, ...(version !== undefined && { version }), ...(action !== undefined && { verb: action }) };
}

/**
 * Registers TF Serving's REST routes (`POST /v1/models/{m}[/versions/{v}]:predict`, model status and
 * metadata) and, when configured, Vertex AI's predict and health routes.
 */
export function registerTfServingRoutes(app: FastifyInstance, slipway: Slipway, options: TfServingOptions = {}): void {
  const predict = async (model: string, routing: { version?: string; routingKey?: string }, body: Buffer | undefined, reply: FastifyReply) => {
    const config = configOf(slipway, model, routing.version);
    const { request, columnar } = decodePredictBody(parseJsonBody(body), config);
    const response = await slipway.router.infer({ ...request, model, ...routing });
    return reply.type('application/json').send(encodePredictResponse(response, columnar));
  };

  app.post('/v1/models/*', async (request: FastifyRequest<{ Params: { '*': string }; Body: Buffer | undefined }>, reply) => {
    const { model, version, verb } = parseModelPath(request.params['*']);
    if (verb === 'predict') return predict(model, httpRouting(request, version), request.body, reply);
    if (verb === 'classify' || verb === 'regress') {
      throw new ServingError('NOT_IMPLEMENTED', `:${verb} takes tf.Example inputs, which ONNX models do not have; use :predict`);
    }
    throw new ServingError('ROUTE_NOT_FOUND', `no TF Serving verb ':${verb ?? ''}'; use POST /v1/models/${model}:predict`);
  });

  app.get('/v1/models/*', async (request: FastifyRequest<{ Params: { '*': string } }>) => {
    const { model, version, verb } = parseModelPath(request.params['*']);
    if (verb === 'metadata') return tfMetadata(slipway, model, version);
    if (verb !== undefined) throw new ServingError('ROUTE_NOT_FOUND', `GET :${verb} is not a TF Serving route; use GET /v1/models/${model}[/metadata]`);
    const entry = slipway.repository.get(model);
    if (entry === undefined) slipway.router.find(model); // throws MODEL_NOT_FOUND with the served names
    const versions = [...entry!.versions.values()].filter((v) => version === undefined || String(v.version) === version);
    if (versions.length === 0) slipway.router.find(model, version);
    return {
      model_version_status: versions.map((v) => ({
        version: String(v.version),
        state: TF_STATE[v.state],
        status: { error_code: v.state === 'UNAVAILABLE' && v.reason !== 'unloaded' ? 'UNKNOWN' : 'OK', error_message: v.reason ?? '' },
      })),
    };
  });

  if (options.vertexPredictRoute !== undefined) {
    app.post(options.vertexPredictRoute, async (request: FastifyRequest<{ Body: Buffer | undefined }>, reply) => {
      const header = request.headers[MODEL_HEADER];
      const model = pickModel(slipway, typeof header === 'string' ? header : undefined, options.defaultModel, `the ${MODEL_HEADER} header`);
      return predict(model, httpRouting(request), request.body, reply);
    });
  }
  if (options.vertexHealthRoute !== undefined) {
    app.get(options.vertexHealthRoute, async (_request, reply) => {
      const reason = slipway.notReadyReason();
      return reason === undefined ? { ready: true } : reply.code(503).send({ ready: false, error: reason });
    });
  }
}

function tfMetadata(slipway: Slipway, model: string, version: string | undefined): object {
  const target = slipway.router.resolve(model, version);
  const config = target.config;
  const signature = (specs: ModelConfig['inputs']) =>
    Object.fromEntries(
      specs.map((s) => {
        const dims = config.maxBatchSize > 0 ? [-1, ...s.dims] : s.dims;
        return [s.name, { dtype: TF_DTYPE[s.datatype], tensor_shape: { dim: dims.map((d) => ({ size: String(d), name: '' })), unknown_rank: false }, name: s.name }];
      }),
    );
  return {
    model_spec: { name: model, signature_name: '', version: String(target.version) },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: { inputs: signature(config.inputs), outputs: signature(config.outputs), method_name: 'tensorflow/serving/predict' },
        },
      },
    },
  };
}
