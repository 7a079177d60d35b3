import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Where a request came in: bounded, so it can be a label. */
export type Protocol = 'http' | 'grpc' | 'library' | 'ui' | 'batch' | (string & {});

/** Per model version hooks the scheduler calls; bound to that version's label values once. */
export interface ModelMetrics {
  queued(seconds: number): void;
  executed(rows: number, computeSeconds: number): void;
  cacheHit(): void;
  cacheMiss(): void;
}

/** A model version's state for the gauges, read at scrape time. */
export interface ModelGaugeSource {
  model: string;
  version: string;
  state: string;
  loadSeconds?: number;
  queueDepth: number;
  /** max_queue_size; 0 = unbounded (no capacity sample then). */
  queueCapacity: number;
  inflight: number;
  instances: number;
}

/** A model's traffic split and rollout, for the gauges, read at scrape time. */
export interface RolloutGaugeSource {
  model: string;
  /** Version → its share of the requests that name no version now, 0..100. */
  shares: ReadonlyMap<number, number>;
  /** The current (or last) rollout's state, if the model ever had one. */
  state: string | undefined;
  /** Its candidate's share now. */
  percent: number | undefined;
}

const ROLLOUT_STATES = ['progressing', 'promoted', 'rolled_back'] as const;
const DIFFERENCE_BUCKETS = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10];
/** Why a request went on without the shared response cache. */
export type ResponseCacheFailure = 'unavailable' | 'timeout' | 'error' | 'too_large';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STATES = ['LOADING', 'READY', 'UNLOADING', 'UNAVAILABLE'] as const;

/**
 * Slipway's Prometheus metrics on a registry of its own (so an app embedding Slipway keeps its own
 * default registry untouched). Label values are bounded: model and version names come from the
 * repository (unknown models are labelled `unknown`), outcomes from the error-code registry.
 *
 * @example
 * const metrics = new Metrics();
 * metrics.recordRequest({ model: 'digits', version: '1', protocol: 'http', outcome: 'success', seconds: 0.002 });
 * const text = await metrics.registry.metrics();
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'version' | 'protocol' | 'outcome'>;
  private readonly requestDuration: Histogram<'model' | 'version' | 'protocol'>;
  private readonly queueDuration: Histogram<'model' | 'version'>;
  private readonly computeDuration: Histogram<'model' | 'version'>;
  private readonly batchSize: Histogram<'model' | 'version'>;
  private readonly busy: Counter<'model' | 'version'>;
  private readonly cacheHits: Counter<'model' | 'version'>;
  private readonly cacheMisses: Counter<'model' | 'version'>;
  private readonly restarts: Counter<'model' | 'version'>;
  private readonly droppedPredictions: Counter<'reason'>;
  private readonly loggedPredictions: Counter;
  private readonly graphSteps: Histogram<'model' | 'version' | 'step' | 'outcome'>;
  private readonly rolloutDecisions: Counter<'model' | 'decision'>;
  private readonly shadowComparisons: Counter<'model' | 'version' | 'outcome'>;
  private readonly shadowDifference: Histogram<'model' | 'version'>;
  private readonly cacheFailures: Counter<'operation' | 'reason'>;
  private readonly cacheOutages: Counter;
  private readonly refusedConnections: Counter<'protocol' | 'reason'>;
  // Under load nearly every request's line is suppressed: counted here, added to the counter at scrape.
  private readonly pendingSuppressed = new Map<string, number>();
  private cacheUpSource: (() => number) | undefined;
  private sources: Array<() => ModelGaugeSource[]> = [];
  private rolloutSources: Array<() => RolloutGaugeSource[]> = [];
  private cacheBytesSource: (() => number) | undefined;
  private batchRunSource: (() => Promise<Array<{ table: string; finishedAt: Date }>>) | undefined;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    // Process and event-loop metrics under their standard names (process_*, nodejs_*), which
    // dashboards and alerts everywhere already know; nodejs_eventloop_lag_* is the event-loop lag.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    const mv = ['model', 'version'] as const;
    this.requests = new Counter({ name: 'slipway_requests_total', help: 'Inference requests by outcome (success or error code)', labelNames: ['model', 'version', 'protocol', 'outcome'], registers });
    this.requestDuration = new Histogram({ name: 'slipway_request_duration_seconds', help: 'Inference request latency, received to answered', labelNames: ['model', 'version', 'protocol'], buckets: LATENCY_BUCKETS, registers });
    this.queueDuration = new Histogram({ name: 'slipway_queue_duration_seconds', help: 'Time a request waited in the model queue', labelNames: mv, buckets: LATENCY_BUCKETS, registers });
    this.computeDuration = new Histogram({ name: 'slipway_compute_duration_seconds', help: 'Model execution time per batch (onnxruntime run)', labelNames: mv, buckets: LATENCY_BUCKETS, registers });
    this.batchSize = new Histogram({ name: 'slipway_batch_size', help: 'Rows per model execution', labelNames: mv, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.busy = new Counter({ name: 'slipway_instance_busy_seconds_total', help: 'Seconds model instances spent executing', labelNames: mv, registers });
    this.cacheHits = new Counter({ name: 'slipway_cache_hits_total', help: 'Response cache hits', labelNames: mv, registers });
    this.cacheMisses = new Counter({ name: 'slipway_cache_misses_total', help: 'Response cache misses', labelNames: mv, registers });
    this.restarts = new Counter({ name: 'slipway_instance_restarts_total', help: 'Model instances restarted after a crash', labelNames: mv, registers });
    this.droppedPredictions = new Counter({ name: 'slipway_prediction_log_dropped_total', help: 'Sampled predictions not logged (store full or failing)', labelNames: ['reason'], registers });
    this.loggedPredictions = new Counter({ name: 'slipway_prediction_log_written_total', help: 'Sampled predictions written to the prediction log', registers });
    this.graphSteps = new Histogram({ name: 'slipway_graph_step_duration_seconds', help: 'Time of each step of a graph (pipeline), by outcome (success or error code)', labelNames: ['model', 'version', 'step', 'outcome'], buckets: LATENCY_BUCKETS, registers });

    this.rolloutDecisions = new Counter({ name: 'slipway_rollout_decisions_total', help: 'Rollout decisions: start, advance, wait, rollback, promote, resume', labelNames: ['model', 'decision'], registers });
    this.shadowComparisons = new Counter({ name: 'slipway_shadow_requests_total', help: 'Shadow copies by outcome: agree, disagree, error (the shadow failed) or shed (the server was busy)', labelNames: ['model', 'version', 'outcome'], registers });
    this.shadowDifference = new Histogram({ name: 'slipway_shadow_max_abs_difference', help: 'Largest absolute difference between a shadow answer and the primary one', labelNames: mv, buckets: DIFFERENCE_BUCKETS, registers });
    this.cacheFailures = new Counter({ name: 'slipway_response_cache_errors_total', help: 'Shared response cache calls skipped or failed (the request went on without the cache)', labelNames: ['operation', 'reason'], registers });
    this.refusedConnections = new Counter({ name: 'slipway_connections_refused_total', help: 'Connections closed at accept: reason per_ip (the client address held max_connections_per_ip already)', labelNames: ['protocol', 'reason'], registers });
    const pendingSuppressed = this.pendingSuppressed;
    new Counter({ name: 'slipway_log_lines_suppressed_total', help: 'Log lines not written because their kind went over its rate limit (kind: request, or the error code)', labelNames: ['kind'], registers, collect() {
      for (const [kind, count] of pendingSuppressed) this.inc({ kind }, count);
      pendingSuppressed.clear();
    } });
    this.cacheOutages = new Counter({ name: 'slipway_response_cache_outages_total', help: 'Times the shared response cache became unavailable', registers });
    const cacheUp = () => this.cacheUpSource?.();
    new Gauge({ name: 'slipway_response_cache_up', help: '1 while the shared response cache (Redis) answers, 0 during an outage (absent for the in-process cache)', aggregator: 'min', registers, collect() {
      this.reset();
      const up = cacheUp();
      if (up !== undefined) this.set(up);
    } });

    const sources = () => this.sources.flatMap((s) => s());
    const rollouts = () => this.rolloutSources.flatMap((s) => s());
    new Gauge({ name: 'slipway_traffic_share_percent', help: 'Share of the requests that name no version each version gets now, 0-100', labelNames: mv, registers, collect() {
      this.reset();
      for (const r of rollouts()) for (const [version, percent] of r.shares) this.set({ model: r.model, version: String(version) }, percent);
    } });
    new Gauge({ name: 'slipway_rollout_state', help: "1 for the state of each model's current (or last) rollout", labelNames: ['model', 'state'], registers, collect() {
      this.reset();
      for (const r of rollouts()) if (r.state !== undefined) for (const state of ROLLOUT_STATES) this.set({ model: r.model, state }, r.state === state ? 1 : 0);
    } });
    new Gauge({ name: 'slipway_rollout_step_percent', help: "The rollout candidate's share of traffic now, 0-100", labelNames: ['model'], registers, collect() {
      this.reset();
      for (const r of rollouts()) if (r.percent !== undefined) this.set({ model: r.model }, r.percent);
    } });
    const batchRuns = async () => (this.batchRunSource === undefined ? [] : this.batchRunSource().catch(() => []));
    new Gauge({ name: 'slipway_queue_depth', help: 'Requests waiting in the model queue', labelNames: mv, registers, collect() {
      this.reset();
      for (const s of sources()) this.set({ model: s.model, version: s.version }, s.queueDepth);
    } });
    new Gauge({ name: 'slipway_queue_capacity', help: 'max_queue_size of the model queue (absent when unbounded)', labelNames: mv, registers, collect() {
      this.reset();
      for (const s of sources()) if (s.queueCapacity > 0) this.set({ model: s.model, version: s.version }, s.queueCapacity);
    } });
    new Gauge({ name: 'slipway_batch_last_success_timestamp_seconds', help: 'When the newest successful batch prediction run into each table finished', labelNames: ['table'], aggregator: 'max', registers, collect: async function (this: Gauge<'table'>) {
      this.reset();
      for (const { table, finishedAt } of await batchRuns()) this.set({ table }, finishedAt.getTime() / 1000);
    } });
    new Gauge({ name: 'slipway_inflight_requests', help: 'Requests running on model instances', labelNames: mv, registers, collect() {
      this.reset();
      for (const s of sources()) this.set({ model: s.model, version: s.version }, s.inflight);
    } });
    new Gauge({ name: 'slipway_instances', help: 'Model instances running', labelNames: mv, registers, collect() {
      this.reset();
      for (const s of sources()) this.set({ model: s.model, version: s.version }, s.instances);
    } });
    new Gauge({ name: 'slipway_model_state', help: '1 for the state each model version is in (in any process, when there are several)', labelNames: ['model', 'version', 'state'], aggregator: 'max', registers, collect() {
      this.reset();
      for (const s of sources()) for (const state of STATES) this.set({ model: s.model, version: s.version, state }, s.state === state ? 1 : 0);
    } });
    new Gauge({ name: 'slipway_model_load_duration_seconds', help: 'How long the model version took to load (the slowest process)', labelNames: mv, aggregator: 'max', registers, collect() {
      this.reset();
      for (const s of sources()) if (s.loadSeconds !== undefined) this.set({ model: s.model, version: s.version }, s.loadSeconds);
    } });
    const cacheBytes = () => this.cacheBytesSource?.() ?? 0;
    new Gauge({ name: 'slipway_cache_bytes', help: 'Bytes held by the response cache', registers, collect() {
      this.set(cacheBytes());
    } });
  }

  /** Adds a source of per-version gauge values (queue depth, state, …), read at each scrape. */
  addModelSource(source: () => ModelGaugeSource[]): void {
    this.sources.push(source);
  }

  /** Adds a source of traffic and rollout gauge values, read at each scrape. */
  addRolloutSource(source: () => RolloutGaugeSource[]): void {
    this.rolloutSources.push(source);
  }

  rolloutDecision(model: string, decision: string): void {
    this.rolloutDecisions.inc({ model, decision });
  }

  shadowCompared(model: string, version: string, outcome: string, maxAbsDiff: number | null): void {
    this.shadowComparisons.inc({ model, version, outcome });
    if (maxAbsDiff !== null && Number.isFinite(maxAbsDiff)) this.shadowDifference.observe({ model, version }, maxAbsDiff);
  }

  /** Where the newest successful batch run per output table is read from (for staleness alerts). */
  setBatchRunSource(source: () => Promise<Array<{ table: string; finishedAt: Date }>>): void {
    this.batchRunSource = source;
  }

  setCacheBytesSource(source: () => number): void {
    this.cacheBytesSource = source;
  }

  /**
   * The Prometheus text `GET /metrics` serves: this registry's, unless replaced (the processes of
   * `slipway serve --processes N` serve the whole server's, aggregated by the primary process).
   */
  exposition: () => Promise<string> = () => this.registry.metrics();

  /** Reads whether the shared response cache is up (1) or down (0), at each scrape. */
  setResponseCacheUpSource(source: () => number): void {
    this.cacheUpSource = source;
  }

  responseCacheFailed(operation: 'get' | 'set', reason: ResponseCacheFailure): void {
    this.cacheFailures.inc({ operation, reason });
  }

  responseCacheOutage(): void {
    this.cacheOutages.inc();
  }

  recordRequest(r: { model: string; version: string; protocol: Protocol; outcome: string; seconds: number }): void {
    this.requests.inc({ model: r.model, version: r.version, protocol: r.protocol, outcome: r.outcome });
    this.requestDuration.observe({ model: r.model, version: r.version, protocol: r.protocol }, r.seconds);
  }

  /** One step of a graph ran (its label is unique in the graph, so the label set stays bounded). */
  graphStep(r: { model: string; version: string; step: string; outcome: string; seconds: number }): void {
    this.graphSteps.observe({ model: r.model, version: r.version, step: r.step, outcome: r.outcome }, r.seconds);
  }

  instanceRestarted(model: string, version: string): void {
    this.restarts.inc({ model, version });
  }

  predictionLogged(count = 1): void {
    this.loggedPredictions.inc(count);
  }

  /** A log line the rate limit dropped (`kind`: `request` or an error code, a bounded set). */
  logLineSuppressed(kind: string): void {
    this.pendingSuppressed.set(kind, (this.pendingSuppressed.get(kind) ?? 0) + 1);
  }

  /** A connection closed at accept (`protocol`: http or grpc). */
  connectionRefused(protocol: string, reason: 'per_ip'): void {
    this.refusedConnections.inc({ protocol, reason });
  }

  predictionDropped(reason: 'queue_full' | 'store_error', count = 1): void {
    this.droppedPredictions.inc({ reason }, count);
  }

  forModel(model: string, version: string): ModelMetrics {
    const labels = { model, version };
    const queue = this.queueDuration.labels(labels);
    const compute = this.computeDuration.labels(labels);
    const batch = this.batchSize.labels(labels);
    const busy = this.busy.labels(labels);
    const hits = this.cacheHits.labels(labels);
    const misses = this.cacheMisses.labels(labels);
    return {
      queued: (seconds) => queue.observe(seconds),
      executed: (rows, seconds) => {
        compute.observe(seconds);
        batch.observe(rows);
        busy.inc(seconds);
      },
      cacheHit: () => hits.inc(),
      cacheMiss: () => misses.inc(),
    };
  }
}
