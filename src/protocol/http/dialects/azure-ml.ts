// Azure Machine Learning's scoring contract: `POST /score` with `{"data": …}` (the classic scoring
// script examples) or `{"input_data": …}` (MLflow / managed online endpoints: a list of rows, a
// pandas "split" object, or named tensors), and the inference server's liveness route `GET /`.
// Decodes into the one internal request.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ModelConfig } from '../../../config/model-config.js';
import { ServingError } from '../../../errors/serving-error.js';
import type { Slipway } from '../../../slipway.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { httpRouting } from '../http-routing.js';
import { parseJsonBody } from '../oip-json.js';
import { azureScoreRequestSchema, checkBody } from '../openapi/schemas.js';
import {
  MODEL_HEADER,
  columnsJson,
  configOf,
  inputSpec,
  isPlainObject,
  pickModel,
  predictionsJson,
  tensorFromNested,
  tensorsFromColumns,
  tensorsFromInstances,
} from './dialect-tensors.js';

export interface AzureMlOptions {
  /** The model `/score` goes to when several are served and the request names none. */
  defaultModel?: string;
}

const malformed = (message: string): ServingError => new ServingError('MALFORMED_REQUEST', message);
const invalid = (message: string): ServingError => new ServingError('INVALID_INPUT', message);

/**
 * pandas' "split" orientation (`{"columns", "index", "data"}`): when the columns are the model's
 * input names each column feeds its input (tabular models with one input per feature); otherwise
 * the rows feed the model's one input.
 */
function tensorsFromSplit(config: ModelConfig, split: Record<string, unknown>): Tensor[] {
  const { columns, data } = split;
  if (!Array.isArray(data)) throw malformed("'input_data.data' must be a list of rows");
  if (columns !== undefined && !Array.isArray(columns)) throw malformed("'input_data.columns' must be a list of names");
  const names = (columns ?? []) as unknown[];
  const inputNames = new Set(config.inputs.map((s) => s.name));
  if (names.length > 0 && names.every((c) => typeof c === 'string' && inputNames.has(c)) && config.inputs.length > 1) {
    return (names as string[]).map((name, c) => {
      const spec = inputSpec(config, name);
      const column = data.map((row: unknown, r) => {
        if (!Array.isArray(row) || row.length !== names.length) {
          throw invalid(`input_data.data[${r}] has ${Array.isArray(row) ? row.length : 'no'} values for ${names.length} columns`);
        }
        return row[c];
      });
      // A [-1, 1] input takes one value per row as a row of one.
      const rank = (config.maxBatchSize > 0 ? 1 : 0) + spec.dims.length;
      return tensorFromNested(spec, rank === 2 ? column.map((v) => [v]) : column, `input_data column '${name}'`);
    });
  }
  if (names.length > 0) {
    for (const [r, row] of data.entries()) {
      if (!Array.isArray(row) || row.length !== names.length) {
        throw invalid(`input_data.data[${r}] has ${Array.isArray(row) ? row.length : 'no'} values for ${names.length} columns`);
      }
    }
  }
  return tensorsFromInstances(config, data, 'input_data.data');
}

/** The tensors of an Azure scoring body and whether the answer is per row (a list) or columnar. */
export function decodeScoreBody(body: unknown, config: ModelConfig): { inputs: Tensor[]; columnar: boolean } {
  if (!isPlainObject(body)) throw malformed('the body must be a JSON object with "data" or "input_data"');
  const { data, input_data: inputData } = checkBody(azureScoreRequestSchema, body, 'score request');
  if (data !== undefined && inputData !== undefined) throw malformed('give "data" or "input_data", not both');
  const value = data ?? inputData;
  const field = data !== undefined ? 'data' : 'input_data';
  if (value === undefined) throw malformed('the body has neither "data" nor "input_data"');
  if (Array.isArray(value)) return { inputs: tensorsFromInstances(config, value, field), columnar: false };
  if (isPlainObject(value) && 'data' in value && ('columns' in value || 'index' in value)) {
    return { inputs: tensorsFromSplit(config, value), columnar: false };
  }
  if (isPlainObject(value)) return { inputs: tensorsFromColumns(config, value, field), columnar: true };
  throw malformed(`'${field}' must be a list of rows, a pandas split object or an object of input name → values`);
}

/**
 * Registers Azure ML's scoring routes: `POST /score` and the Azure inference server's liveness
 * probe `GET /` ("Healthy"). Point the deployment's readiness probe at `/v2/health/ready`.
 */
export function registerAzureMlRoutes(app: FastifyInstance, slipway: Slipway, options: AzureMlOptions = {}): void {
  app.get('/', async (_request, reply) => reply.type('text/plain').send('Healthy'));

  app.post('/score', async (request: FastifyRequest<{ Body: Buffer | undefined; Querystring: { model?: string } }>, reply) => {
    const header = request.headers[MODEL_HEADER];
    const named = (typeof header === 'string' ? header : undefined) ?? request.query.model;
    const model = pickModel(slipway, named, options.defaultModel, `the ${MODEL_HEADER} header or ?model=`);
    const routing = httpRouting(request);
    const config = configOf(slipway, model, routing.version);
    const { inputs, columnar } = decodeScoreBody(parseJsonBody(request.body), config);
    const response = await slipway.router.infer({ model, inputs, transferInputs: true, ...routing });
    // One output: the bare list, as Azure scoring scripts return `result.tolist()`.
    const text = columnar ? columnsJson(response.outputs) : response.outputs.length === 1 ? predictionsJson(response.outputs) : rowsByOutput(response.outputs);
    return reply.type('application/json').send(text);
  });
}

/** Several outputs of a row request: an object of output name → its rows. */
function rowsByOutput(outputs: readonly Tensor[]): string {
  return `{${outputs.map((o) => `${JSON.stringify(o.name)}:${predictionsJson([o])}`).join(',')}}`;
}
