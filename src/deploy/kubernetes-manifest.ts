import { stringify } from 'yaml';
import {
  TERMINATION_GRACE_SECONDS,
  TMP_MOUNT,
  TMP_VOLUME,
  containerEnvironment,
  containerResources,
  containerSecurityContext,
  healthProbes,
  HEALTH_PORT,
  podSecurityContext,
  projectLabels,
  type DeployProject,
} from './workload.js';

/** Objects in YAML, one document each, after a comment that says what they are. */
export function yamlDocuments(comment: string, objects: readonly object[]): string {
  return `${comment
    .split('\n')
    .map((line) => `# ${line}`.trimEnd())
    .join('\n')}\n${objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n')}`;
}

/** The Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget for a project's image. */
export function kubernetesObjects(project: DeployProject, image: string): object[] {
  const { ports, scaling } = project.runtime;
  const labels = projectLabels(project.name);
  const resources = containerResources(project);
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: project.name, labels },
    spec: {
      // No replicas: the HorizontalPodAutoscaler owns the count, and a re-apply must not reset it.
      selector: { matchLabels: labels },
      // A new pod is ready before an old one goes: a rollout never lowers capacity.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          automountServiceAccountToken: false,
          securityContext: podSecurityContext(),
          // SIGTERM: not ready at once, answering for the drain delay, then in-flight requests finish.
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: labels } }],
          containers: [
            {
              name: 'slipway',
              image,
              ports: [
                { name: 'http', containerPort: ports.http, protocol: 'TCP' },
                { name: 'grpc', containerPort: ports.grpc, protocol: 'TCP' },
                { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
              ],
              env: [...containerEnvironment(project), { name: 'SLIPWAY_HEALTH_PORT', value: String(HEALTH_PORT) }],
              ...(resources !== undefined && { resources }),
              ...healthProbes('health'),
              securityContext: containerSecurityContext(),
              volumeMounts: [TMP_MOUNT],
            },
          ],
          volumes: [TMP_VOLUME],
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: project.name, labels },
    spec: {
      selector: labels,
      ports: [
        { name: 'http', port: ports.http, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
        // Ingresses and meshes must speak HTTP/2 without TLS to the gRPC port.
        { name: 'grpc', port: ports.grpc, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
      ],
    },
  };
  const metrics: object[] = [
    { type: 'Pods', pods: { metric: { name: 'slipway_queue_depth' }, target: { type: 'AverageValue', averageValue: String(scaling.queue_depth) } } },
  ];
  // Utilisation is a share of the request: without a CPU request there is nothing to scale on.
  if (project.runtime.resources.cpu !== undefined) {
    metrics.unshift({ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: scaling.cpu_utilization } } });
  }
  const autoscaler = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: project.name, labels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: project.name },
      minReplicas: scaling.min_replicas,
      maxReplicas: scaling.max_replicas,
      metrics,
      // Out fast on a burst, in slowly: a model takes seconds to load, a flapping pod count costs more.
      behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
    },
  };
  const budget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: project.name, labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
  };
  return [deployment, service, autoscaler, budget];
}

/** Prometheus Operator's ServiceMonitor: scrape `/metrics` on the http port of every pod. */
export function serviceMonitor(project: DeployProject): object {
  const labels = projectLabels(project.name);
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: project.name, labels },
    spec: { selector: { matchLabels: labels }, endpoints: [{ port: 'http', path: '/metrics', interval: '15s' }] },
  };
}

/**
 * prometheus-adapter's rule (values for its Helm chart) that serves `slipway_queue_depth` per pod on
 * the custom metrics API, where the HorizontalPodAutoscaler reads it.
 */
export function prometheusAdapterValues(): object {
  return {
    rules: {
      custom: [
        {
          seriesQuery: 'slipway_queue_depth{namespace!="",pod!=""}',
          resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
          name: { matches: '^slipway_queue_depth$', as: 'slipway_queue_depth' },
          // Every model's queue in the pod counts: the pod is as busy as all its queues together.
          metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)',
        },
      ],
    },
  };
}

/**
 * `kubernetes.yaml` as `slipway build` writes it: Deployment (probes on the OIP health routes,
 * resources and SLIPWAY_CORES from slipway.yaml, a drain that matches the grace period, non-root
 * with a read-only root), Service (HTTP and gRPC with appProtocol), HorizontalPodAutoscaler (CPU and
 * queue depth) and PodDisruptionBudget.
 *
 * @example
 * writeFileSync('kubernetes.yaml', renderKubernetesManifest(project, 'registry.example/digits:1.0'));
 */
export function renderKubernetesManifest(project: DeployProject, image: string): string {
  return yamlDocuments(
    [
      'Generated by slipway build. Apply with: kubectl apply -f kubernetes.yaml',
      'The autoscaler reads slipway_queue_depth from the custom metrics API: install prometheus-adapter with',
      'prometheus-adapter-values.yaml, and Prometheus scraping the pods (monitoring.yaml, for the Prometheus Operator).',
      'Until then it scales on CPU alone.',
    ].join('\n'),
    kubernetesObjects(project, image),
  );
}

/** `monitoring.yaml`: the ServiceMonitor (needs the Prometheus Operator's CRDs). */
export function renderMonitoringManifest(project: DeployProject): string {
  return yamlDocuments('Generated by slipway build: Prometheus Operator scrapes /metrics of every pod.', [serviceMonitor(project)]);
}

/** `prometheus-adapter-values.yaml`: `helm install prometheus-adapter prometheus-community/prometheus-adapter -f …`. */
export function renderPrometheusAdapterValues(): string {
  return yamlDocuments('Generated by slipway build: values for the prometheus-adapter Helm chart, so the HPA can scale on queue depth.', [
    prometheusAdapterValues(),
  ]);
}
