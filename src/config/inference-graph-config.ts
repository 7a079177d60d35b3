import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseYamlConfig } from './parse-yaml-config.js';

/** The file in a model folder that makes it a KServe InferenceGraph (instead of version folders). */
export const INFERENCE_GRAPH_FILE = 'inference-graph.yaml';

// A timeout is seconds (KServe's unit, fractions allowed) or a duration such as `250ms` or `2s`.
const timeout = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const seconds = typeof value === 'number' ? value : (parseDuration(value) ?? Number.NaN) / 1000;
  if (!(seconds > 0)) {
    ctx.addIssue({ code: 'custom', message: `expected seconds or a duration such as 250ms or 2s, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return seconds;
});

/** One step of a node, as KServe's `InferenceStep`, plus Slipway's `inputMap` and `timeout`. */
const inferenceStep = z.strictObject({
  name: z.string().min(1).optional(),
  nodeName: z.string().min(1).optional(),
  serviceName: z.string().min(1).optional(),
  serviceUrl: z.string().min(1).optional(),
  data: z.string().optional(),
  condition: z.string().optional(),
  weight: z.number().int().min(0).max(100).optional(),
  dependency: z.enum(['Soft', 'Hard']).optional(),
  /** KServe moves v1 `predictions` to `instances`; tensors need no such move, so it is accepted and changes nothing. */
  mapPredictionsToInstances: z.boolean().optional(),
  /** Slipway: the target's input name → the tensor that feeds it (`name`, `$request.name`, `$response.name`, `$steps.<step>.name`). */
  inputMap: z.record(z.string().min(1), z.string().min(1)).optional(),
  /** Slipway: the step must answer within this many seconds (or a duration such as `250ms`). */
  timeout: timeout.optional(),
});

export type InferenceStepFile = z.infer<typeof inferenceStep>;

const inferenceRouter = z.strictObject({
  routerType: z.enum(['Sequence', 'Switch', 'Ensemble', 'Splitter']),
  steps: z.array(inferenceStep).optional(),
});

export type InferenceRouterFile = z.infer<typeof inferenceRouter>;

// Fields of KServe's InferenceGraphSpec that place and scale the router pod on Kubernetes. They are
// accepted, so a manifest applied to a cluster loads here unchanged, and mean nothing in one process.
const kubernetesOnly = z.unknown().optional();

/** A KServe `InferenceGraph` manifest (serving.kserve.io/v1alpha1), as KServe documents it. */
export const inferenceGraphFileSchema = z.strictObject({
  apiVersion: z.literal('serving.kserve.io/v1alpha1'),
  kind: z.literal('InferenceGraph'),
  metadata: z.looseObject({ name: z.string().min(1).optional() }).optional(),
  spec: z.strictObject({
    nodes: z.record(z.string().min(1), inferenceRouter),
    /** Seconds KServe gives each request to the graph. */
    timeout: z.number().int().positive().optional(),
    routerTimeouts: z
      .strictObject({
        serverRead: z.number().int().positive().optional(),
        serverWrite: z.number().int().positive().optional(),
        serverIdle: z.number().int().positive().optional(),
        /** Seconds for each call the router makes to a step: Slipway's default step timeout. */
        serviceClient: z.number().int().positive().optional(),
      })
      .optional(),
    resources: kubernetesOnly,
    affinity: kubernetesOnly,
    minReplicas: kubernetesOnly,
    maxReplicas: kubernetesOnly,
    scaleTarget: kubernetesOnly,
    scaleMetric: kubernetesOnly,
    tolerations: kubernetesOnly,
    nodeSelector: kubernetesOnly,
    nodeName: kubernetesOnly,
    serviceAccountName: kubernetesOnly,
  }),
  status: kubernetesOnly,
});

export type InferenceGraphFile = z.infer<typeof inferenceGraphFileSchema>;

/** Reads and validates an `inference-graph.yaml`; every problem is reported at once with its field path. */
export async function loadInferenceGraphFile(path: string): Promise<InferenceGraphFile> {
  return parseInferenceGraphText(await readFile(path, 'utf8'), path);
}

export function parseInferenceGraphText(text: string, source: string): InferenceGraphFile {
  return parseYamlConfig(inferenceGraphFileSchema, text, source);
}
