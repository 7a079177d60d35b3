// Amazon SageMaker's inference container contract: `GET /ping` and `POST /invocations`, with the
// body formats SageMaker's own containers accept: JSON (an OIP request, TF Serving's instances or
// inputs, or a bare list of rows), CSV (one row per line), raw little-endian tensor bytes, and the
// Triton binary+json type SageMaker uses for Triton. Decodes into the one internal request.
import { parse as parseCsv } from 'csv-parse/sync';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelConfig, TensorSpec } from '../../../config/model-config.js';
import { ServingError } from '../../../errors/serving-error.js';
import type { Slipway } from '../../../slipway.js';
import { tensorDataFromBinary, tensorDataToBinary } from '../../../tensor/binary.js';
import { DATATYPE_INFO } from '../../../tensor/datatypes.js';
import { tensorFromJson } from '../../../tensor/from-json.js';
import type { InferenceResponse } from '../../../tensor/inference.js';
import { elementCount, formatShape, type Tensor } from '../../../tensor/tensor.js';
import { binaryOutputSelector, decodeBinaryInferRequest, encodeBinaryInferResponse } from '../binary-tensors.js';
import { httpRouting } from '../http-routing.js';
import { decodeInferRequest, encodeInferResponse, parseJsonBody } from '../oip-json.js';
import { MODEL_HEADER, configOf, isPlainObject, onlyInput, pickModel, predictionsJson, rowDims } from './dialect-tensors.js';
import { decodePredictBody, encodePredictResponse } from './tf-serving.js';

export interface SageMakerOptions {
  /** The model `/invocations` goes to when several are served and the request names none. */
  defaultModel?: string;
  /** Largest JSON header of a binary-tensor request (413 beyond; default 1 MiB). */
  maxInferenceHeaderBytes?: number;
}

/** SageMaker's multi-model header; its value is the artifact name (`digits.tar.gz` → model `digits`). */
const TARGET_MODEL_HEADER = 'x-amzn-sagemaker-target-model';
/** The shape of an `application/octet-stream` body, e.g. `1,1,8,8`, when the model's dims do not fix it. */
const SHAPE_HEADER = 'x-slipway-shape';
const TRITON_BINARY = 'application/vnd.sagemaker-triton.binary+json';

const malformed = (message: string): ServingError => new ServingError('MALFORMED_REQUEST', message);
const invalid = (message: string): ServingError => new ServingError('INVALID_INPUT', message);

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * CSV rows (no header line) as a batch for a one-input model: each row is one instance whose
 * values fill the input's non-batch dims in row-major order, so every row must have exactly that
 * many columns.
 */
export function tensorFromCsv(config: ModelConfig, text: string): Tensor {
  const spec = onlyInput(config, 'CSV can feed only a model with one input; send JSON naming the inputs');
  let rows: string[][];
  try {
    rows = parseCsv(text, { relax_column_count: true, skip_empty_lines: true, trim: true }) as string[][];
  } catch (error) {
    throw malformed(`the CSV body cannot be parsed: ${(error as Error).message}`);
  }
  if (rows.length === 0) throw malformed('the CSV body has no rows');
  const dims = rowDims(config, spec);
  const fixed = dims.every((d) => d >= 0);
  const columns = fixed ? elementCount(dims) : rows[0]!.length;
  rows.forEach((row, i) => {
    if (row.length !== columns) {
      throw invalid(
        `CSV row ${i + 1} has ${row.length} columns, but input '${spec.name}' of model '${config.name}' takes ${columns} values per row${fixed ? ` (shape ${formatShape(dims)})` : ' (as many as the first row)'}`,
      );
    }
  });
  const shape = fixed ? [rows.length, ...dims] : [rows.length, columns];
  const values = rows.flatMap((row, r) => row.map((cell, c) => csvValue(spec, cell, r, c)));
  return tensorFromCsvValues(spec, shape, values);
}

function csvValue(spec: TensorSpec, cell: string, row: number, column: number): unknown {
  const kind = DATATYPE_INFO[spec.datatype].kind;
  if (kind === 'bytes') return cell;
  if (kind === 'bool') {
    if (/^(true|1)$/i.test(cell)) return true;
    if (/^(false|0)$/i.test(cell)) return false;
    throw invalid(`CSV row ${row + 1}, column ${column + 1}: ${JSON.stringify(cell)} is not a boolean (true/false/1/0) for input '${spec.name}'`);
  }
  const value = cell === '' ? Number.NaN : Number(cell);
  if (Number.isNaN(value) && !/^nan$/i.test(cell)) {
    throw invalid(`CSV row ${row + 1}, column ${column + 1}: ${JSON.stringify(cell)} is not a number (input '${spec.name}' is ${spec.datatype})`);
  }
  return value;
}

function tensorFromCsvValues(spec: TensorSpec, shape: number[], values: unknown[]): Tensor {
  // The same value checks as JSON (range, integer-ness), with the flat index mapped back to row/column.
  try {
    return tensorFromJson({ name: spec.name, datatype: spec.datatype, shape, data: values }, 'input');
  } catch (error) {
    const perRow = elementCount(shape.slice(1));
    const message = (error as Error).message.replace(/element (\d+)/, (_m, i: string) => `CSV row ${Math.floor(Number(i) / perRow) + 1}, column ${(Number(i) % perRow) + 1}`);
    throw invalid(message);
  }
}

/** Raw little-endian bytes of the one input; the batch size follows from the byte count. */
export function tensorFromOctets(config: ModelConfig, body: Buffer, shapeHeader: string | undefined): Tensor {
  const spec = onlyInput(config, 'a raw body can feed only a model with one input; send JSON naming the inputs');
  if (spec.datatype === 'BYTES') throw invalid(`input '${spec.name}' is BYTES; send it as JSON or CSV`);
  const size = DATATYPE_INFO[spec.datatype].byteSize;
  let shape: number[];
  if (shapeHeader !== undefined) {
    shape = shapeHeader.split(',').map((d) => Number(d.trim()));
    if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw malformed(`${SHAPE_HEADER} must be comma-separated non-negative integers, got ${JSON.stringify(shapeHeader)}`);
  } else {
    const dims = rowDims(config, spec);
    if (dims.some((d) => d < 0)) {
      throw invalid(`input '${spec.name}' has variable dims ${formatShape(dims)}; say the shape with the ${SHAPE_HEADER} header (e.g. ${SHAPE_HEADER}: 1,${dims.map((d) => (d < 0 ? 4 : d)).join(',')})`);
    }
    const perRow = elementCount(dims) * size;
    if (config.maxBatchSize === 0) shape = spec.dims;
    else {
      if (perRow === 0 || body.byteLength % perRow !== 0) {
        throw invalid(`the body has ${body.byteLength} bytes, not a whole number of ${spec.datatype} rows of shape ${formatShape(dims)} (${perRow} bytes each)`);
      }
      shape = [body.byteLength / perRow, ...dims];
    }
  }
  return { name: spec.name, datatype: spec.datatype, shape, data: tensorDataFromBinary(spec.datatype, shape, body, `input '${spec.name}'`) };
}

/** CSV answer: one line per row, each output's row values flattened, outputs side by side. */
export function csvFromOutputs(outputs: readonly Tensor[]): string {
  const first = outputs[0];
  if (first === undefined) return '';
  const rows = first.shape.length === 0 ? 1 : first.shape[0]!;
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const cells: string[] = [];
    for (const o of outputs) {
      const per = o.shape.length === 0 ? 1 : elementCount(o.shape.slice(1));
      for (let i = r * per; i < (r + 1) * per; i++) {
        const v = o.data[i];
        cells.push(typeof v === 'string' ? (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v) : String(v));
      }
    }
    lines.push(cells.join(','));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Registers SageMaker's routes: `GET /ping` (200 once ready), `POST /invocations`, and
 * `GET /execution-parameters` (what batch transform asks before sending work).
 */
export function registerSageMakerRoutes(app: FastifyInstance, slipway: Slipway, options: SageMakerOptions = {}): void {
  app.get('/ping', async (_request, reply) => {
    const reason = slipway.notReadyReason();
    return reason === undefined ? reply.code(200).send() : reply.code(503).type('application/json').send({ error: reason });
  });

  app.get('/execution-parameters', async () => ({ MaxConcurrentTransforms: 2, BatchStrategy: 'MULTI_RECORD', MaxPayloadInMB: 6 }));

  app.post('/invocations', async (request: FastifyRequest<{ Body: Buffer | undefined }>, reply: FastifyReply) => {
    const target = header(request, TARGET_MODEL_HEADER)?.replace(/\.tar\.gz$/, '');
    const model = pickModel(slipway, target ?? header(request, MODEL_HEADER), options.defaultModel, `the ${TARGET_MODEL_HEADER} (or ${MODEL_HEADER}) header`);
    const body = request.body ?? Buffer.alloc(0);
    const contentType = (header(request, 'content-type') ?? 'application/json').toLowerCase();
    const accept = (header(request, 'accept') ?? '').toLowerCase();
    const routing = httpRouting(request);
    const config = configOf(slipway, model, routing.version);

    if (contentType.startsWith(TRITON_BINARY)) {
      const size = /json-header-size=(\d+)/.exec(contentType)?.[1];
      const inferRequest = decodeBinaryInferRequest(body, size ?? '', model, routing.version, options.maxInferenceHeaderBytes);
      const binary = binaryOutputSelector(inferRequest);
      const response = await slipway.router.infer({ ...inferRequest, ...routing });
      if (binary === undefined) return reply.type('application/json').send(encodeInferResponse(response));
      const encoded = encodeBinaryInferResponse(response, binary);
      return reply.type(`${TRITON_BINARY};json-header-size=${encoded.headerLength}`).send(encoded.body);
    }

    let inputs: Tensor[];
    let answer: (response: InferenceResponse) => FastifyReply;
    const asCsv = (response: InferenceResponse) => reply.type('text/csv').send(csvFromOutputs(response.outputs));
    const asJson = (response: InferenceResponse) => reply.type('application/json').send(`{"predictions":${predictionsJson(response.outputs)}}`);
    if (contentType.startsWith('text/csv')) {
      inputs = [tensorFromCsv(config, body.toString('utf8'))];
      answer = accept.includes('application/json') ? asJson : asCsv;
    } else if (contentType.startsWith('application/octet-stream') || contentType.startsWith('application/x-raw')) {
      inputs = [tensorFromOctets(config, body, header(request, SHAPE_HEADER))];
      answer = accept.includes('application/octet-stream')
        ? (response) => {
            const out = response.outputs[0]!;
            const raw = tensorDataToBinary(out.datatype, out.data);
            return reply
              .header(SHAPE_HEADER, out.shape.join(','))
              .header('x-slipway-datatype', out.datatype)
              .type('application/octet-stream')
              .send(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
          }
        : accept.includes('text/csv')
          ? asCsv
          : asJson;
    } else if (contentType.startsWith('application/json')) {
      const parsed = parseJsonBody(body);
      if (isPlainObject(parsed) && Array.isArray(parsed.inputs) && parsed.inputs.every((t) => isPlainObject(t) && 'datatype' in t)) {
        // An OIP request: answered in OIP form.
        const response = await slipway.router.infer({ ...decodeInferRequest(parsed, model), ...routing });
        return reply.type('application/json').send(encodeInferResponse(response));
      }
      const { request: decoded, columnar } = decodePredictBody(parsed, config);
      const response = await slipway.router.infer({ ...decoded, model, ...routing });
      return accept.includes('text/csv') ? asCsv(response) : reply.type('application/json').send(encodePredictResponse(response, columnar));
    } else {
      throw malformed(`Content-Type ${contentType} is not supported; send application/json, text/csv, application/octet-stream or ${TRITON_BINARY}`);
    }
    const response = await slipway.router.infer({ model, inputs, transferInputs: true, ...routing });
    return answer(response);
  });
}
