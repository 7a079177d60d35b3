import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as core from 'kubernetes-models/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as knative from '@kubernetes-models/knative/serving.knative.dev/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { ROOT } from './paths.js';

/** A Kubernetes object as YAML gives it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [key: string]: unknown };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary object shapes
  [key: string]: unknown;
}

type Model = new (data: never) => { validate(): void };

// Core, Knative and Prometheus Operator objects through kubernetes-models' validators (the OpenAPI
// schemas of Kubernetes 1.2x, Knative Serving and the Prometheus Operator's CRDs).
const MODELS: Record<string, Model> = {
  'apps/v1/Deployment': apps.Deployment as unknown as Model,
  'v1/Service': core.Service as unknown as Model,
  'v1/ConfigMap': core.ConfigMap as unknown as Model,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler as unknown as Model,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget as unknown as Model,
  'batch/v1/Job': batch.Job as unknown as Model,
  'batch/v1/CronJob': batch.CronJob as unknown as Model,
  'serving.knative.dev/v1/Service': knative.Service as unknown as Model,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor as unknown as Model,
};

// KServe's kinds through the openAPIV3Schema of its own CRDs (vendored in test/fixtures/kserve).
const CRDS: Record<string, string> = {
  'serving.kserve.io/v1alpha1/ServingRuntime': 'serving.kserve.io_servingruntimes.yaml',
  'serving.kserve.io/v1beta1/InferenceService': 'serving.kserve.io_inferenceservices.yaml',
};
const crdValidators = new Map<string, ValidateFunction>();

function crdValidator(key: string): ValidateFunction | undefined {
  const file = CRDS[key];
  if (file === undefined) return undefined;
  let validate = crdValidators.get(key);
  if (validate === undefined) {
    const crd = parseYaml(readFileSync(join(ROOT, 'test/fixtures/kserve', file), 'utf8')) as {
      spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: object } }> };
    };
    const version = key.split('/')[1];
    const schema = crd.spec.versions.find((v) => v.name === version)!.schema.openAPIV3Schema;
    // x-kubernetes-* keywords and Kubernetes formats (int-or-string, int64, …) are the API server's.
    // Unoptimised code compiles KServe's 2 MB schema several times faster, and validates a handful of objects.
    validate = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { optimize: false } }).compile(schema);
    crdValidators.set(key, validate);
  }
  return validate;
}

/**
 * Validates an object as the API server would admit it (schema only: no admission webhooks). Throws
 * with the object's kind, name and every problem; refuses kinds it has no schema for.
 */
export function validateKubernetesObject(object: KubeObject): void {
  const key = `${object.apiVersion}/${object.kind}`;
  const where = `${object.kind} ${object.metadata?.name ?? '(unnamed)'}`;
  const model = MODELS[key];
  if (model !== undefined) {
    try {
      new model(object as never).validate();
    } catch (error) {
      throw new Error(`${where} is not valid: ${(error as Error).message}`);
    }
    return;
  }
  const validate = crdValidator(key);
  if (validate === undefined) throw new Error(`${where}: no schema for ${key}`);
  if (!validate(object)) {
    throw new Error(`${where} is not valid: ${validate.errors!.map((e) => `${e.instancePath} ${e.message}`).join('; ')}`);
  }
}

/** Every document of a YAML stream (empty ones skipped). */
export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`not valid YAML: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null);
}
