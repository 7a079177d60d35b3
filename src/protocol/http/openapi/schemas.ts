// The HTTP bodies as zod schemas: the routes check request envelopes with them (the tensor values
// themselves are checked by the tensor decoders, which name the element) and the OpenAPI document
// is generated from them, so the documentation cannot drift from what the server accepts.
import { z } from 'zod';
import { formatIssues } from '../../../config/format-issues.js';
import { ServingError } from '../../../errors/serving-error.js';
import { DATATYPES } from '../../../tensor/datatypes.js';

const parameterValue = z.union([z.boolean(), z.number(), z.string()]);
export const parametersSchema = z.record(z.string(), parameterValue).meta({ description: 'Name → bool, number or string.' });

const shape = z.array(z.number().int().min(0)).meta({ description: 'Dimensions, row-major.', example: [1, 1, 8, 8] });
const datatype = z.enum(DATATYPES).meta({ description: 'OIP datatype.' });

export const inputTensorSchema = z
  .object({
    name: z.string().min(1),
    datatype,
    shape,
    parameters: parametersSchema.optional().meta({ description: 'binary_data_size: this tensor is in the binary part of the body (binary tensor data extension).' }),
    data: z.unknown().optional().meta({ description: 'Values, flat or nested row-major. Absent when the tensor is sent as binary data.' }),
  })
  ;

export const requestedOutputSchema = z
  .object({
    name: z.string().min(1),
    parameters: parametersSchema.optional().meta({ description: 'binary_data: true returns this output as binary data.' }),
  })
  ;

export const inferRequestSchema = z
  .object({
    id: z.string().optional(),
    parameters: parametersSchema.optional().meta({ description: 'binary_data_output: true returns every output as binary data; timeout (µs), priority.' }),
    inputs: z.array(inputTensorSchema).min(1),
    outputs: z.array(requestedOutputSchema).optional(),
  })
  .meta({
    example: { inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] }, { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] }] },
  });

export const outputTensorSchema = z
  .object({ name: z.string(), datatype, shape, parameters: parametersSchema.optional(), data: z.array(z.unknown()).optional() })
  ;

export const inferResponseSchema = z
  .object({
    model_name: z.string(),
    model_version: z.string(),
    id: z.string().optional(),
    parameters: parametersSchema.optional(),
    outputs: z.array(outputTensorSchema),
  })
  ;

export const errorSchema = z
  .object({ error: z.string().meta({ description: 'What is wrong, naming the tensor, field or column.' }), code: z.string().meta({ description: 'Stable error code.' }) })
  ;

export const liveSchema = z.object({ live: z.boolean() });
export const readySchema = z.object({ ready: z.boolean(), error: z.string().optional() });
export const modelReadySchema = z.object({ name: z.string(), ready: z.boolean(), error: z.string().optional() });
export const serverMetadataSchema = z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) });

const tensorMetadata = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()) });
export const modelMetadataSchema = z
  .object({ name: z.string(), versions: z.array(z.string()), platform: z.string(), inputs: z.array(tensorMetadata), outputs: z.array(tensorMetadata) })
  ;

export const modelConfigSchema = z.record(z.string(), z.unknown()).meta({ description: "The resolved model configuration in Triton's JSON form." });

export const repositoryIndexRequestSchema = z
  .object({ ready: z.boolean().optional().meta({ description: 'Only models ready for inference.' }) })
  ;
export const repositoryIndexResponseSchema = z
  .array(z.object({ name: z.string(), version: z.string().optional(), state: z.enum(['LOADING', 'READY', 'UNLOADING', 'UNAVAILABLE']), reason: z.string() }))
  ;
export const repositoryLoadRequestSchema = z
  .object({ parameters: z.record(z.string(), z.unknown()).optional() })
  .meta({ description: 'Optional. Load takes no parameters (the model comes from the repository folder); unload accepts unload_dependents.' });

// Traffic policies and rollouts: the request bodies are the config.yaml sections themselves.
export { rolloutConfigSchema as rolloutStartRequestSchema, trafficConfigSchema as trafficRequestSchema } from '../../../config/traffic-config.js';

export const rolloutActionRequestSchema = z
  .strictObject({ reason: z.string().min(1).max(500).optional().meta({ description: 'Why, recorded with the decision.' }) })
  .meta({ description: 'Optional.' });

const modelState = z.enum(['LOADING', 'READY', 'UNLOADING', 'UNAVAILABLE']);
const shadowStatus = z.object({ version: z.number().int(), percent: z.number(), compare: z.string(), tolerance: z.number() });
export const trafficStatusSchema = z.object({
  source: z.enum(['config', 'admin', 'rollout', 'default']).meta({ description: "Where the policy comes from; default: none, the newest READY version takes every request." }),
  stable: z.number().int().nullable().meta({ description: 'The version a rollback returns to.' }),
  versions: z.array(z.object({ version: z.number().int(), state: modelState, weight: z.number(), percent: z.number().meta({ description: 'Share of the requests that name no version it gets now.' }) })),
  shadow: shadowStatus.nullable(),
});
export const trafficResponseSchema = z.object({ model: z.string(), revision: z.number().int(), traffic: trafficStatusSchema });

const versionSummary = z.object({ requests: z.number(), errors: z.number(), success_rate: z.number().nullable(), p50_ms: z.number().nullable(), p99_ms: z.number().nullable() });
const analysisSummary = z.object({
  window_ms: z.number(),
  stable: versionSummary,
  candidate: versionSummary,
  p99_ratio: z.number().nullable(),
  error_p_value: z.number().nullable(),
  latency_p_value: z.number().nullable(),
  shadow_comparisons: z.number(),
  agreement: z.number().nullable(),
});
const rolloutRecord = z.object({
  id: z.string(),
  state: z.enum(['progressing', 'promoted', 'rolled_back']),
  spec: z.record(z.string(), z.unknown()).meta({ description: 'The rollout settings with defaults filled in (from, to, steps, interval_ms, thresholds).' }),
  step: z.number().int(),
  percent: z.number(),
  started_at: z.string(),
  step_started_at: z.string(),
  finished_at: z.string().nullable(),
  reason: z.string().nullable(),
  decisions: z.array(
    z.object({
      at: z.string(),
      decision: z.enum(['start', 'advance', 'wait', 'rollback', 'promote', 'resume']),
      step: z.number().int(),
      percent: z.number(),
      reason: z.string(),
      by: z.enum(['controller', 'admin', 'config']),
      analysis: analysisSummary.optional(),
    }),
  ),
});
export const rolloutStatusSchema = z.object({
  model: z.string(),
  revision: z.number().int().meta({ description: 'Changes with every stored change: replicas showing the same revision agree.' }),
  traffic: trafficStatusSchema,
  rollout: rolloutRecord.nullable(),
  live_analysis: analysisSummary.nullable().meta({ description: 'The window being judged now (on the replica running the analysis).' }),
  history: z.array(z.object({ id: z.string(), state: z.string(), from: z.number().int(), to: z.number().int(), started_at: z.string(), finished_at: z.string().nullable(), reason: z.string().nullable() })),
});

export const tfPredictRequestSchema = z
  .object({
    signature_name: z.string().optional(),
    instances: z.array(z.unknown()).optional().meta({ description: 'Row format: one entry per batch row; a value, or an object naming the inputs. {"b64": …} for binary strings.' }),
    inputs: z.unknown().optional().meta({ description: 'Columnar format: the whole tensor, or an object of input name → tensor.' }),
  })
  .meta({ example: { instances: [1.0, 2.0, 5.0] } });
export const tfPredictResponseSchema = z
  .object({ predictions: z.array(z.unknown()).optional(), outputs: z.unknown().optional() })
  .meta({ example: { predictions: [2.5, 3.0, 4.5] } });
export const tfStatusSchema = z
  .object({ model_version_status: z.array(z.object({ version: z.string(), state: z.string(), status: z.object({ error_code: z.string(), error_message: z.string() }) })) })
  ;

export const azureScoreRequestSchema = z
  .object({
    data: z.unknown().optional().meta({ description: 'Rows for the model (a list), or an object of input name → values.' }),
    input_data: z.unknown().optional().meta({ description: 'MLflow style: a list of rows, a pandas "split" object {columns, index, data}, or input name → values.' }),
  })
  .meta({ example: { data: [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]] } });

/** Checks a parsed body against a schema, answering 400 with every problem and its path. */
export function checkBody<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new ServingError('MALFORMED_REQUEST', `${what}: ${formatIssues(result.error).join('; ')}`);
  return result.data;
}
