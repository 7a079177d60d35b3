import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseProjectConfigText } from '../../src/config/project-config.js';
import { renderKnativeManifest } from '../../src/deploy/knative-manifest.js';
import { renderKServeManifest } from '../../src/deploy/kserve-manifest.js';
import { renderKubernetesManifest, renderMonitoringManifest, renderPrometheusAdapterValues } from '../../src/deploy/kubernetes-manifest.js';
import { DRAIN_DELAY_SECONDS, TERMINATION_GRACE_SECONDS } from '../../src/deploy/workload.js';
import { kubeTools, requireHelm } from '../helpers/kube-tools.js';
import { parseObjects, validateKubernetesObject, type KubeObject } from '../helpers/kubernetes-schemas.js';
import { ROOT } from '../helpers/paths.js';
import { parse as parseYaml } from 'yaml';

const project = (runtime = '') =>
  parseProjectConfigText(`name: digits\nmodels: [examples/models/digits]\nruntime:\n  resources: { cpu: 1500m, memory: 2Gi }\n${runtime}`, join(ROOT, 'slipway.yaml'));
const IMAGE = 'registry.example/digits:1.0.0';

const byKind = (objects: KubeObject[], kind: string, name?: string): KubeObject => {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.ok(found, `no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => `${o.kind} ${o.metadata.name}`).join(', ')}`);
  return found;
};

describe('the manifests slipway build writes validate against Kubernetes, Knative, Prometheus Operator and KServe schemas', () => {
  const objects = [
    ...parseObjects(renderKubernetesManifest(project(), IMAGE)),
    ...parseObjects(renderMonitoringManifest(project())),
    ...parseObjects(renderKServeManifest(project('  storage_uri: s3://models/digits\n'), IMAGE)),
    ...parseObjects(renderKnativeManifest(project(), IMAGE)),
  ];

  test('every object is valid', () => {
    assert.deepEqual(
      objects.map((o) => `${o.apiVersion}/${o.kind}`),
      [
        'apps/v1/Deployment', 'v1/Service', 'autoscaling/v2/HorizontalPodAutoscaler', 'policy/v1/PodDisruptionBudget',
        'monitoring.coreos.com/v1/ServiceMonitor',
        'serving.kserve.io/v1alpha1/ServingRuntime', 'serving.kserve.io/v1beta1/InferenceService', 'serving.kserve.io/v1beta1/InferenceService',
        'serving.knative.dev/v1/Service',
      ],
    );
    for (const object of objects) validateKubernetesObject(object);
  });

  test('Deployment: OIP health probes, resources and SLIPWAY_CORES from slipway.yaml, a drain inside the grace period, non-root and read-only', () => {
    const pod = byKind(objects, 'Deployment').spec.template.spec;
    const container = pod.containers[0];
    assert.equal(container.image, IMAGE);
    assert.deepEqual(container.resources, { requests: { cpu: '1500m', memory: '2Gi' }, limits: { memory: '2Gi' } });
    const secretEntry = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: 'digits-keys', key, optional: true } } });
    assert.deepEqual(container.env, [
      { name: 'SLIPWAY_CORES', value: '2' },
      { name: 'SLIPWAY_DRAIN_DELAY_SECONDS', value: String(DRAIN_DELAY_SECONDS) },
      // API keys from an optional Secret: the manifests apply without it, and keys come with it.
      secretEntry('SLIPWAY_API_KEYS', 'api-keys'),
      secretEntry('SLIPWAY_UI_KEYS', 'ui-keys'),
      secretEntry('SLIPWAY_ADMIN_TOKEN', 'admin-token'),
      { name: 'SLIPWAY_HEALTH_PORT', value: '8003' },
    ]);
    // The probes go to the health port, whose own thread answers them when the serving port is overloaded.
    assert.deepEqual(container.ports.find((p: { name: string }) => p.name === 'health'), { name: 'health', containerPort: 8003, protocol: 'TCP' });
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.equal(container[probe].httpGet.port, 'health', probe);
    assert.equal(container.startupProbe.httpGet.path, '/v2/health/ready');
    assert.equal(container.readinessProbe.httpGet.path, '/v2/health/ready');
    assert.equal(container.livenessProbe.httpGet.path, '/v2/health/live');
    assert.equal(pod.terminationGracePeriodSeconds, TERMINATION_GRACE_SECONDS);
    assert.ok(TERMINATION_GRACE_SECONDS >= DRAIN_DELAY_SECONDS + 30, 'time to finish requests after the drain delay');
    assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    assert.deepEqual(container.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    assert.equal(byKind(objects, 'Deployment').spec.replicas, undefined, 'the autoscaler owns the replica count');
  });

  test('Service with appProtocol; autoscaler on CPU and queue depth; disruption budget; ServiceMonitor on /metrics', () => {
    const service = byKind(objects, 'Service', 'digits');
    assert.deepEqual(service.spec.ports.map((p: { name: string; appProtocol: string }) => [p.name, p.appProtocol]), [['http', 'http'], ['grpc', 'kubernetes.io/h2c']]);
    const hpa = byKind(objects, 'HorizontalPodAutoscaler').spec;
    assert.deepEqual([hpa.minReplicas, hpa.maxReplicas], [2, 10]);
    assert.deepEqual(hpa.metrics.map((m: { type: string }) => m.type), ['Resource', 'Pods']);
    assert.equal(hpa.metrics[1].pods.metric.name, 'slipway_queue_depth');
    assert.equal(byKind(objects, 'PodDisruptionBudget').spec.maxUnavailable, 1);
    assert.deepEqual(byKind(objects, 'ServiceMonitor').spec.endpoints, [{ port: 'http', path: '/metrics', interval: '15s' }]);
    const adapter = parseYaml(renderPrometheusAdapterValues()) as { rules: { custom: Array<{ seriesQuery: string; name: { as: string } }> } };
    assert.equal(adapter.rules.custom[0]!.name.as, 'slipway_queue_depth', 'the adapter serves the metric the HPA asks for');
  });

  test("KServe: an ONNX runtime picked automatically, v2 and grpc-v2, kserve-container reading /mnt/models under the InferenceService's name", () => {
    const runtime = byKind(objects, 'ServingRuntime').spec;
    assert.deepEqual(runtime.supportedModelFormats, [{ name: 'onnx', version: '1', autoSelect: true, priority: 2 }]);
    assert.deepEqual(runtime.protocolVersions, ['v2', 'grpc-v2']);
    const container = runtime.containers[0];
    assert.equal(container.name, 'kserve-container');
    assert.deepEqual(container.args.slice(0, 3), ['serve', '/mnt/models', '--model-name={{.Name}}']);
    const rest = byKind(objects, 'InferenceService', 'digits').spec.predictor.model;
    assert.deepEqual(rest, { modelFormat: { name: 'onnx' }, runtime: 'digits-runtime', storageUri: 's3://models/digits' });
    const grpc = byKind(objects, 'InferenceService', 'digits-grpc').spec.predictor.model;
    assert.deepEqual(grpc.ports, [{ name: 'h2c', containerPort: 9000, protocol: 'TCP' }]);
    // Without a storage URI, the runtime serves the models built into the image.
    const baked = parseObjects(renderKServeManifest(project(), IMAGE));
    assert.deepEqual(byKind(baked, 'ServingRuntime').spec.containers[0].args.slice(0, 2), ['serve', '/app/models']);
    assert.equal(byKind(baked, 'InferenceService', 'digits').spec.predictor.model.storageUri, undefined);
  });

  test('Knative: scales to zero, one http1 port, probes without a port', () => {
    const ksvc = byKind(objects, 'Service', 'digits');
    const knative = objects.filter((o) => o.apiVersion === 'serving.knative.dev/v1')[0]!;
    assert.notEqual(ksvc, knative);
    const annotations = knative.spec.template.metadata.annotations;
    assert.equal(annotations['autoscaling.knative.dev/min-scale'], '0');
    assert.equal(annotations['autoscaling.knative.dev/target'], '16');
    const container = knative.spec.template.spec.containers[0];
    assert.deepEqual(container.ports, [{ name: 'http1', containerPort: 8000 }]);
    assert.equal(container.readinessProbe.httpGet.port, undefined);
  });

  test('the validators do refuse what the API server would refuse', () => {
    const deployment = structuredClone(byKind(objects, 'Deployment'));
    deployment.spec.template.spec.containers = 'slipway';
    assert.throws(() => validateKubernetesObject(deployment), /Deployment digits is not valid: .*containers must be array/);
    const runtime = structuredClone(byKind(objects, 'ServingRuntime'));
    runtime.spec.supportedModelFormats = [{ autoSelect: 'yes' }];
    assert.throws(() => validateKubernetesObject(runtime), /ServingRuntime digits-runtime is not valid: .*autoSelect must be boolean/);
    const knative = structuredClone(objects.find((o) => o.apiVersion === 'serving.knative.dev/v1')!);
    knative.spec.template.spec.containerConcurrency = 'many';
    assert.throws(() => validateKubernetesObject(knative), /Service digits is not valid/);
    assert.throws(() => validateKubernetesObject({ apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'g' } }), /no schema for example.com\/v1\/Gadget/);
  });
});

describe('the Helm chart: helm lint --strict, helm template, and the same validation', requireHelm(), () => {
  const chart = join(ROOT, 'deploy/helm/slipway');
  const helm = (args: string[]) => {
    const result = spawnSync(kubeTools()!.helm, args, { encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };
  const render = (sets: string[]) => parseObjects(execFileSync(kubeTools()!.helm, ['template', 'demo', chart, ...sets.flatMap((s) => ['--set', s])], { encoding: 'utf8' }));
  const modes: Record<string, string[]> = {
    kubernetes: ['serviceMonitor.enabled=true'],
    kserve: ['mode=kserve', 'kserve.storageUri=s3://models/digits', 'kserve.canaryTrafficPercent=10'],
    knative: ['mode=knative'],
  };

  for (const [mode, sets] of Object.entries(modes)) {
    test(`${mode}: lints strictly, renders, and every object validates`, () => {
      const lint = helm(['lint', '--strict', chart, ...sets.flatMap((s) => ['--set', s])]);
      assert.equal(lint.status, 0, lint.output);
      const objects = render(sets);
      assert.ok(objects.length > 0);
      for (const object of objects) validateKubernetesObject(object);
    });
  }

  test('access: keys from a Secret (optional entries), allowed hosts, CORS origins and a rate limit as the server reads them', () => {
    const sets = ['access.keysSecret=prod-keys', 'access.allowedHosts={models.example.com,ui.example.com}', 'access.corsOrigins={https://app.example.com}', 'access.rateLimit=100/s'];
    const lint = helm(['lint', '--strict', chart, ...sets.flatMap((s) => ['--set', s])]);
    assert.equal(lint.status, 0, lint.output);
    const env = byKind(render(sets), 'Deployment').spec.template.spec.containers[0].env as Array<{ name: string; value?: string; valueFrom?: unknown }>;
    const named = (name: string) => env.find((e) => e.name === name);
    assert.deepEqual(named('SLIPWAY_UI_KEYS')?.valueFrom, { secretKeyRef: { name: 'prod-keys', key: 'ui-keys', optional: true } });
    assert.deepEqual(named('SLIPWAY_ADMIN_TOKEN')?.valueFrom, { secretKeyRef: { name: 'prod-keys', key: 'admin-token', optional: true } });
    assert.equal(named('SLIPWAY_ALLOWED_HOSTS')?.value, 'models.example.com,ui.example.com');
    assert.equal(named('SLIPWAY_CORS_ORIGINS')?.value, 'https://app.example.com');
    assert.equal(named('SLIPWAY_RATE_LIMIT')?.value, '100/s');
    const defaults = byKind(render([]), 'Deployment').spec.template.spec.containers[0].env as Array<{ name: string; valueFrom?: { secretKeyRef: { name: string } } }>;
    assert.equal(defaults.find((e) => e.name === 'SLIPWAY_API_KEYS')?.valueFrom?.secretKeyRef.name, 'demo-slipway-keys');
    assert.equal(defaults.find((e) => e.name === 'SLIPWAY_RATE_LIMIT'), undefined);
    const bad = helm(['lint', '--strict', chart, '--set', 'access.rateLimit=lots']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.output, /rateLimit/);
  });

  test('access.tlsSecret: the pods serve TLS from the Secret, the ServiceMonitor uses https, the Service says so, probes stay on the plain health port', () => {
    const sets = ['access.tlsSecret=demo-tls', 'serviceMonitor.enabled=true'];
    const lint = helm(['lint', '--strict', chart, ...sets.flatMap((s) => ['--set', s])]);
    assert.equal(lint.status, 0, lint.output);
    const objects = render(sets);
    for (const object of objects) validateKubernetesObject(object);
    const pod = byKind(objects, 'Deployment').spec.template.spec;
    const container = pod.containers[0];
    const env = Object.fromEntries((container.env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));
    assert.equal(env.SLIPWAY_TLS_CERT, '/etc/slipway/tls/tls.crt');
    assert.equal(env.SLIPWAY_TLS_KEY, '/etc/slipway/tls/tls.key');
    assert.deepEqual(pod.volumes.find((v: { name: string }) => v.name === 'tls'), { name: 'tls', secret: { secretName: 'demo-tls' } });
    assert.deepEqual(container.volumeMounts.find((m: { name: string }) => m.name === 'tls'), { name: 'tls', mountPath: '/etc/slipway/tls', readOnly: true });
    // The probes stay on the health port, plain HTTP: its thread serves only live/ready, never data or keys.
    for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
      assert.equal(probe.httpGet.port, 'health');
      assert.equal(probe.httpGet.scheme, undefined);
    }
    assert.deepEqual(byKind(objects, 'Service').spec.ports.map((p: { appProtocol: string }) => p.appProtocol), ['https', 'grpc']);
    assert.equal(byKind(objects, 'ServiceMonitor').spec.endpoints[0].scheme, 'https');
  });

  test('values the schema refuses fail the lint, naming the value', () => {
    const lint = helm(['lint', '--strict', chart, '--set', 'mode=swarm']);
    assert.notEqual(lint.status, 0);
    assert.match(lint.output, /mode/);
  });

  test("the chart's Deployment, Service and autoscaler match what slipway build generates (one design, two renderings)", () => {
    const charted = render(['resources.requests.cpu=1500m', 'resources.requests.memory=2Gi', 'resources.limits.memory=2Gi']);
    const generated = parseObjects(renderKubernetesManifest(project(), IMAGE));
    const pick = (objects: KubeObject[]) => {
      const pod = byKind(objects, 'Deployment').spec.template.spec;
      const c = pod.containers[0];
      const env = Object.fromEntries((c.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
      return {
        podSecurity: pod.securityContext,
        grace: pod.terminationGracePeriodSeconds,
        security: c.securityContext,
        probes: [c.startupProbe, c.readinessProbe, c.livenessProbe],
        resources: c.resources,
        cores: env.SLIPWAY_CORES,
        drain: env.SLIPWAY_DRAIN_DELAY_SECONDS,
        ports: c.ports,
        strategy: byKind(objects, 'Deployment').spec.strategy,
        service: byKind(objects, 'Service').spec.ports,
        hpa: byKind(objects, 'HorizontalPodAutoscaler').spec.metrics,
        pdb: byKind(objects, 'PodDisruptionBudget').spec.maxUnavailable,
      };
    };
    assert.deepEqual(pick(charted), pick(generated));
  });
});
