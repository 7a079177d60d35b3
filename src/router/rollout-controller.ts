import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ParsedRolloutConfig, TrafficConfig } from '../config/traffic-config.js';
import { ServingError } from '../errors/serving-error.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ModelState } from '../repository/model-state.js';
import { systemClock, type Clock } from '../scheduler/clock.js';
import { AnalysisWindow, analyzeCanary, type AnalysisSummary } from './canary-analysis.js';
import {
  DECISION_LIMIT,
  HISTORY_LIMIT,
  emptyDocument,
  type ModelRolloutDocument,
  type RolloutDecision,
  type RolloutDecisionKind,
  type RolloutRecord,
  type RolloutStore,
  type StoredTraffic,
} from './rollout-store.js';
import { resolveRolloutSpec, thresholdsOf } from './rollout-spec.js';
import type { ShadowOutcome } from './shadow.js';
import { heaviest, policyFromConfig, sharePercent, usableWeights, type TrafficPolicy } from './traffic-policy.js';

/** What the controller needs to know about the served models (the repository, seen from the router). */
export interface RolloutModels {
  names(): string[];
  /** The model's versions and their states; undefined for a model the server does not know. */
  versions(model: string): ReadonlyMap<number, ModelState> | undefined;
  /** The `traffic:` and `rollout:` sections of the model's config.yaml. */
  declared(model: string): { traffic?: TrafficConfig; rollout?: ParsedRolloutConfig } | undefined;
}

/** Who asked for a change (recorded with each decision). */
export type DecidedBy = RolloutDecision['by'];

export interface RolloutControllerOptions {
  store: RolloutStore;
  models: RolloutModels;
  /** Timers (evaluations, store polling); a fake one in tests. */
  clock?: Clock;
  /** Wall-clock milliseconds, for stored times and leases (default Date.now). */
  now?: () => number;
  /** How often the store is read, so replicas agree and a dead replica's rollout is taken over (default 1000 ms). */
  syncIntervalMs?: number;
  /** How long a replica's claim on a rollout's analysis lasts without renewal (default max(5 s, 3 syncs)). */
  leaseMs?: number;
  /** This replica's name in leases (default host:pid:random). */
  owner?: string;
  logger?: Logger;
  metrics?: Metrics;
  /** Randomness for latency reservoirs (tests pin it). */
  random?: () => number;
}

/** One version's share of the requests that name no version, as they are routed now. */
export interface VersionShare {
  version: number;
  state: ModelState;
  /** The policy's weight (0 for versions it does not name). */
  weight: number;
  /** The share of requests it gets now, 0..100 (versions that are not READY get none). */
  percent: number;
}

export interface TrafficStatus {
  /** `default`: no policy, the newest READY version takes every request. */
  source: TrafficPolicy['source'] | 'default';
  stable: number | null;
  versions: VersionShare[];
  shadow: { version: number; percent: number; compare: string; tolerance: number } | null;
}

/** What `GET /v2/models/{m}/rollout` and `slipway rollout status` show. */
export interface RolloutStatus {
  model: string;
  /** Changes with every stored change: replicas showing the same revision agree. */
  revision: number;
  traffic: TrafficStatus;
  /** The current rollout, or the last one (null if the model never had one). */
  rollout: RolloutRecord | null;
  /** The analysis of the window running now (only on the replica that runs it). */
  live_analysis: AnalysisSummary | null;
  history: Array<Pick<RolloutRecord, 'id' | 'state' | 'started_at' | 'finished_at' | 'reason'> & { from: number; to: number }>;
}

interface Entry {
  revision: number;
  doc: ModelRolloutDocument;
  policy: TrafficPolicy | undefined;
}

/** The analysis this replica runs for a rollout whose lease it holds. */
interface Run {
  id: string;
  step: number;
  window: AnalysisWindow;
  timer: unknown;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Runs canary rollouts and keeps every model's traffic policy: the router asks it where each
 * request goes (`policy`) and tells it how each went (`observe`). State lives in a `RolloutStore`,
 * so it survives restarts and every replica reading the same store routes alike; the replica
 * holding a rollout's lease runs its analysis on its own share of the traffic.
 *
 * A rollout moves the candidate through its steps (10→25→50→100% by default). After each
 * `interval`, the window since the step began is judged (`analyzeCanary`): a pass moves to the next
 * step (the last one promotes), a breach rolls back at once (all traffic to the stable version, the
 * candidate stays loaded), and too few requests waits, up to `step_deadline`, then rolls back as
 * inconclusive. Every decision is stored, logged and counted.
 *
 * @example
 * const controller = await RolloutController.open({ store: new MemoryRolloutStore(), models });
 * await controller.start('digits', { to: 2, interval: 30_000 });
 * controller.status('digits').rollout?.percent; // 10
 * await controller.rollback('digits');          // every request on version 1 again
 */
export class RolloutController {
  private readonly entries = new Map<string, Entry>();
  private readonly runs = new Map<string, Run>();
  private readonly serials = new Map<string, Promise<unknown>>();
  private readonly work = new Set<Promise<unknown>>();
  /** Rollouts this replica started whose first window has not begun yet (not a takeover: no resume). */
  private readonly fresh = new Set<string>();
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly owner: string;
  private readonly syncIntervalMs: number;
  private readonly leaseMs: number;
  private syncTimer: unknown;
  private closed = false;

  private constructor(private readonly options: RolloutControllerOptions) {
    this.clock = options.clock ?? systemClock;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger();
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.leaseMs = options.leaseMs ?? Math.max(5000, 3 * this.syncIntervalMs);
    options.metrics?.addRolloutSource(() => this.gauges());
  }

  /** Reads the store, resumes the rollouts no live replica is running, starts the ones config.yaml declares, and polls from then on. */
  static async open(options: RolloutControllerOptions): Promise<RolloutController> {
    const controller = new RolloutController(options);
    await controller.sync();
    for (const model of options.models.names()) await controller.startDeclared(model);
    controller.armSync();
    return controller;
  }

  /** Where this replica's leases are held from (for logs and tests). */
  get ownerId(): string {
    return this.owner;
  }

  // ---- the hot path (called by the router for every request) ----

  /** The model's traffic policy, or undefined: every request to the newest READY version. */
  policy(model: string): TrafficPolicy | undefined {
    const entry = this.entries.get(model);
    if (entry !== undefined) return entry.policy;
    // Only models the server has get an entry: request paths name models, and they are not to be trusted.
    if (this.options.models.versions(model) === undefined) return undefined;
    const doc = emptyDocument();
    const policy = this.defaultPolicy(model, doc);
    this.entries.set(model, { revision: 0, doc, policy });
    return policy;
  }

  /** A request the policy routed (not one that named its version) finished. */
  observe(model: string, version: number, ok: boolean, latencyMs: number): void {
    const run = this.runs.get(model);
    if (run === undefined) return;
    const spec = this.entries.get(model)?.doc.rollout?.spec;
    if (spec === undefined) return;
    if (version === spec.to) run.window.candidate.record(ok, latencyMs);
    else if (version === spec.from) run.window.stable.record(ok, latencyMs);
  }

  /** A shadow copy on `version` was compared with its primary's answer. */
  observeShadow(model: string, version: number, outcome: ShadowOutcome): void {
    const run = this.runs.get(model);
    if (run === undefined || outcome === 'shed' || this.entries.get(model)?.doc.rollout?.spec.to !== version) return;
    if (outcome === 'agree') run.window.shadow.agree++;
    else if (outcome === 'disagree') run.window.shadow.disagree++;
    else run.window.shadow.errors++;
  }

  // ---- the admin API ----

  status(model: string): RolloutStatus {
    this.requireModel(model);
    const entry = this.entries.get(model) ?? { revision: 0, doc: emptyDocument(), policy: this.policy(model) };
    const run = this.runs.get(model);
    const rollout = entry.doc.rollout;
    return {
      model,
      revision: entry.revision,
      traffic: this.trafficStatus(model, entry.policy),
      rollout,
      live_analysis: run !== undefined && rollout !== null ? analyzeCanary(run.window, thresholdsOf(rollout.spec), this.now()).summary : null,
      history: entry.doc.history.map((r) => ({ id: r.id, state: r.state, started_at: r.started_at, finished_at: r.finished_at, reason: r.reason, from: r.spec.from, to: r.spec.to })),
    };
  }

  /**
   * Starts a canary rollout of `config.to` against the stable version (`config.from`, default: the
   * version taking the most traffic now). Both must be READY; one rollout per model at a time.
   */
  async start(model: string, config: ParsedRolloutConfig, by: DecidedBy = 'admin'): Promise<RolloutStatus> {
    const versions = this.requireModel(model);
    // The rollout this call wrote; a write redone after losing to another replica makes a new one.
    let started: RolloutRecord | undefined;
    const forget = () => {
      if (started !== undefined) this.fresh.delete(started.id);
      started = undefined;
    };
    try {
      await this.mutate(model, (doc) => {
        forget();
        if (doc.rollout?.state === 'progressing') {
          if (by === 'config') return undefined;
          throw new ServingError(
            'ROLLOUT_CONFLICT',
            `model '${model}' already has a rollout in progress (version ${doc.rollout.spec.from} → ${doc.rollout.spec.to}, at ${doc.rollout.percent}%); roll it back or promote it first`,
          );
        }
        // A declared rollout runs once per version, whichever replica gets there first.
        if (by === 'config' && [doc.rollout, ...doc.history].some((r) => r?.spec.to === config.to)) return undefined;
        const from = config.from ?? this.currentStable(model, doc, config.to);
        if (from === undefined) {
          throw new ServingError('INVALID_INPUT', `model '${model}' has no READY version below ${config.to} taking traffic to compare it with; name the stable version with from`);
        }
        requireReady(model, versions, config.to, 'to');
        requireReady(model, versions, from, 'from');
        const spec = resolveRolloutSpec(config, from);
        const nowMs = this.now();
        const percent = spec.steps[0]!;
        started = {
          id: randomUUID(),
          state: 'progressing',
          spec,
          step: 0,
          percent,
          started_at: iso(nowMs),
          step_started_at: iso(nowMs),
          finished_at: null,
          reason: null,
          decisions: [],
        };
        this.fresh.add(started.id);
        const shares = spec.steps.at(-1)! < 100 ? [...spec.steps, 100] : spec.steps;
        const reason = `${by === 'config' ? 'config.yaml declares' : 'started'} a rollout of version ${spec.to} against ${spec.from}: steps ${shares.join('→')}%, ${spec.interval_ms} ms each`;
        return {
          traffic: this.rolloutTraffic(spec, percent, nowMs),
          rollout: this.decide(model, started, { decision: 'start', reason, by }, nowMs),
          history: retire(doc),
        };
      });
    } catch (error) {
      forget();
      throw error;
    }
    if (started !== undefined) this.track(this.claim(model));
    return this.status(model);
  }

  /**
   * Puts every request on the stable version at once: ends a rollout in progress (rolled back, the
   * candidate stays loaded), or, with none, sets the policy to 100% stable. The local policy
   * changes before the store is written, so this replica stops sending to the candidate even if
   * the store is down.
   */
  async rollback(model: string, reason = 'rolled back by an administrator', by: DecidedBy = 'admin'): Promise<RolloutStatus> {
    this.requireModel(model);
    const policy = this.policy(model);
    const running = this.entries.get(model)?.doc.rollout;
    const progressing = running?.state === 'progressing';
    const stable = progressing ? running!.spec.from : policy?.stable;
    if (stable === undefined) return this.status(model);
    const pinned = policy?.shadow === undefined && policy !== undefined && policy.weights.every((w) => (w.version === stable) === w.weight > 0);
    if (!progressing && pinned) return this.status(model);
    this.setLocalPolicy(model, { weights: [{ version: stable, weight: 100 }], stable, source: progressing ? 'rollout' : 'admin' });
    await this.mutate(model, (doc) => {
      const nowMs = this.now();
      const rollout = doc.rollout;
      if (rollout?.state === 'progressing') {
        const ended = { ...this.decide(model, rollout, { decision: 'rollback', reason, by }, nowMs), state: 'rolled_back' as const, percent: 0, finished_at: iso(nowMs), reason };
        return { ...doc, rollout: ended, traffic: this.pinned(rollout.spec.from, 'rollout', nowMs) };
      }
      const current = doc.traffic;
      const target = current?.stable ?? stable;
      if (current !== null && Object.entries(current.weights).every(([v, w]) => (Number(v) === target) === w > 0) && current.shadow === null) return undefined;
      return { ...doc, traffic: this.pinned(target, 'admin', nowMs) };
    });
    return this.status(model);
  }

  /** Ends a rollout in progress by giving the candidate every request now (skipping the remaining steps). */
  async promote(model: string, reason = 'promoted by an administrator', by: DecidedBy = 'admin'): Promise<RolloutStatus> {
    this.requireModel(model);
    await this.mutate(model, (doc) => {
      const rollout = doc.rollout;
      if (rollout?.state !== 'progressing') throw new ServingError('ROLLOUT_NOT_FOUND', `model '${model}' has no rollout in progress to promote`);
      const nowMs = this.now();
      const ended = { ...this.decide(model, rollout, { decision: 'promote', reason, by }, nowMs), state: 'promoted' as const, percent: 100, finished_at: iso(nowMs), reason };
      return { ...doc, rollout: ended, traffic: this.pinned(rollout.spec.to, 'rollout', nowMs) };
    });
    return this.status(model);
  }

  /** Sets the model's traffic policy by hand (refused while a rollout runs: it owns the weights then). */
  async setTraffic(model: string, config: TrafficConfig): Promise<RolloutStatus> {
    const versions = this.requireModel(model);
    const policy = policyFromConfig(config, 'admin');
    for (const { version, weight } of policy.weights) if (weight > 0) requireReady(model, versions, version, `weights.${version}`);
    if (!policy.weights.some((w) => w.weight > 0 && w.version === policy.stable)) {
      throw new ServingError('INVALID_INPUT', `stable: version ${policy.stable} has no weight; the stable version must take traffic`);
    }
    if (policy.shadow !== undefined) requireReady(model, versions, policy.shadow.version, 'shadow.version');
    await this.mutate(model, (doc) => {
      if (doc.rollout?.state === 'progressing') {
        throw new ServingError('ROLLOUT_CONFLICT', `model '${model}' has a rollout in progress, which sets its weights; roll it back or promote it first`);
      }
      const traffic: StoredTraffic = {
        weights: Object.fromEntries(policy.weights.map((w) => [String(w.version), w.weight])),
        stable: policy.stable,
        shadow: policy.shadow ?? null,
        source: 'admin',
        updated_at: iso(this.now()),
      };
      return { ...doc, traffic };
    });
    return this.status(model);
  }

  /** Forgets the stored policy: config.yaml's `traffic:` applies again, or, without one, the newest READY version. */
  async clearTraffic(model: string): Promise<RolloutStatus> {
    this.requireModel(model);
    await this.mutate(model, (doc) => {
      if (doc.rollout?.state === 'progressing') {
        throw new ServingError('ROLLOUT_CONFLICT', `model '${model}' has a rollout in progress, which sets its weights; roll it back or promote it first`);
      }
      return doc.traffic === null ? undefined : { ...doc, traffic: null };
    });
    return this.status(model);
  }

  /** The repository loaded or reloaded the model: its config and versions may have changed. */
  modelChanged(model: string): void {
    const entry = this.entries.get(model);
    if (entry !== undefined) entry.policy = this.effectivePolicy(model, entry.doc);
    this.track(this.startDeclared(model));
  }

  // ---- keeping replicas in step ----

  /** Reads every stored document, applies what changed, and renews, takes over or lets go of rollout leases. */
  async sync(): Promise<void> {
    let rows;
    try {
      rows = await this.options.store.list();
    } catch (error) {
      this.logger.warn({ event: 'rollout_store_unavailable', err: error, store: this.options.store.location }, 'cannot read the rollout store; keeping the last known policies');
      return;
    }
    for (const row of rows) {
      const entry = this.entries.get(row.model);
      if (entry === undefined || entry.revision !== row.revision) this.apply(row.model, row.document, row.revision);
    }
    for (const [model, entry] of [...this.entries]) {
      if (entry.doc.rollout?.state !== 'progressing') continue;
      await this.claim(model).catch((error: unknown) => this.logger.warn({ event: 'rollout_lease_failed', model, err: error }, 'cannot renew the rollout lease'));
    }
  }

  /** Resolves when the work started so far (evaluations, store writes) has finished: tests on a fake clock wait on it. */
  async settled(): Promise<void> {
    while (this.work.size > 0) await Promise.allSettled([...this.work]);
  }

  /** Stops the timers and hands this replica's rollouts back (their leases), so another replica or a restart resumes them at once. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.syncTimer !== undefined) this.clock.clearTimer(this.syncTimer);
    await this.settled();
    for (const model of [...this.runs.keys()]) await this.stopRun(model, true);
  }

  // ---- internals ----

  private armSync(): void {
    if (this.closed) return;
    this.syncTimer = this.clock.setTimer(() => {
      this.syncTimer = undefined;
      this.track(this.sync().finally(() => this.armSync()));
    }, this.syncIntervalMs * 1000);
  }

  private track(promise: Promise<unknown>): void {
    const tracked = promise.catch((error: unknown) => this.logger.error({ event: 'rollout_error', err: error }, 'rollout controller error'));
    this.work.add(tracked);
    void tracked.finally(() => this.work.delete(tracked));
  }

  private requireModel(model: string): ReadonlyMap<number, ModelState> {
    const versions = this.options.models.versions(model);
    if (versions === undefined) {
      throw new ServingError('MODEL_NOT_FOUND', `unknown model '${model}'; serving: ${this.options.models.names().join(', ') || 'nothing'}`);
    }
    if (versions.size === 0) throw new ServingError('MODEL_NOT_FOUND', `model '${model}' has no graph versions to route between`);
    return versions;
  }

  /** Applies a stored document: the policy, and this replica's analysis of it. */
  private apply(model: string, doc: ModelRolloutDocument, revision: number): void {
    this.entries.set(model, { revision, doc, policy: this.effectivePolicy(model, doc) });
    const run = this.runs.get(model);
    if (run === undefined) return;
    if (doc.rollout?.id !== run.id || doc.rollout.state !== 'progressing') void this.stopRun(model, true);
    else if (doc.rollout.step !== run.step) this.beginStep(model, doc.rollout);
  }

  private setLocalPolicy(model: string, policy: TrafficPolicy): void {
    const entry = this.entries.get(model);
    if (entry === undefined) this.entries.set(model, { revision: 0, doc: emptyDocument(), policy });
    else entry.policy = policy;
  }

  /** Stored traffic wins; then config.yaml's; then none (newest READY), keeping a declared rollout's candidate out until its rollout starts. */
  private effectivePolicy(model: string, doc: ModelRolloutDocument): TrafficPolicy | undefined {
    const stored = doc.traffic;
    if (stored !== null) {
      return policyFromConfig({ weights: stored.weights, stable: stored.stable, ...(stored.shadow !== null && { shadow: stored.shadow }) }, stored.source);
    }
    return this.defaultPolicy(model, doc);
  }

  private defaultPolicy(model: string, doc: ModelRolloutDocument): TrafficPolicy | undefined {
    const declared = this.options.models.declared(model);
    if (declared?.traffic !== undefined) return policyFromConfig(declared.traffic, 'config');
    const pending = declared?.rollout?.to;
    if (pending === undefined || [doc.rollout, ...doc.history].some((r) => r?.spec.to === pending)) return undefined;
    const older = this.newestReady(model, pending);
    return older === undefined ? undefined : { weights: [{ version: older, weight: 100 }], stable: older, source: 'config' };
  }

  private newestReady(model: string, except?: number): number | undefined {
    let newest: number | undefined;
    for (const [version, state] of this.options.models.versions(model) ?? []) {
      if (state === 'READY' && version !== except && (newest === undefined || version > newest)) newest = version;
    }
    return newest;
  }

  /** The version a new rollout compares against: the one taking the most traffic now, else the newest READY one below the candidate. */
  private currentStable(model: string, doc: ModelRolloutDocument, candidate: number): number | undefined {
    const policy = this.effectivePolicy(model, doc);
    const versions = this.options.models.versions(model);
    const ready = (v: number) => versions?.get(v) === 'READY';
    const primary = policy === undefined ? this.newestReady(model) : heaviest(usableWeights(policy, ready));
    if (primary !== undefined && primary !== candidate) return primary;
    let best: number | undefined;
    for (const [version, state] of versions ?? []) if (state === 'READY' && version < candidate && (best === undefined || version > best)) best = version;
    return best;
  }

  private trafficStatus(model: string, policy: TrafficPolicy | undefined): TrafficStatus {
    const versions = this.options.models.versions(model) ?? new Map<number, ModelState>();
    const ready = (v: number) => versions.get(v) === 'READY';
    const weights = new Map((policy?.weights ?? []).map((w) => [w.version, w.weight]));
    let shares = policy === undefined ? new Map<number, number>() : sharePercent(usableWeights(policy, ready));
    if (shares.size === 0) {
      const newest = this.newestReady(model);
      if (newest !== undefined) shares = new Map([[newest, 100]]);
    }
    const all = [...new Set([...versions.keys(), ...weights.keys()])].sort((a, b) => a - b);
    return {
      source: policy?.source ?? 'default',
      stable: policy?.stable ?? this.newestReady(model) ?? null,
      versions: all.map((version) => ({ version, state: versions.get(version) ?? 'UNAVAILABLE', weight: weights.get(version) ?? 0, percent: round2(shares.get(version) ?? 0) })),
      shadow: policy?.shadow ?? null,
    };
  }

  private rolloutTraffic(spec: RolloutRecord['spec'], percent: number, nowMs: number): StoredTraffic {
    return {
      weights: { [String(spec.from)]: 100 - percent, [String(spec.to)]: percent },
      stable: spec.from,
      shadow: spec.shadow_percent > 0 ? { version: spec.to, percent: spec.shadow_percent, compare: spec.shadow_compare, tolerance: spec.shadow_tolerance } : null,
      source: 'rollout',
      updated_at: iso(nowMs),
    };
  }

  private pinned(version: number, source: StoredTraffic['source'], nowMs: number): StoredTraffic {
    return { weights: { [String(version)]: 100 }, stable: version, shadow: null, source, updated_at: iso(nowMs) };
  }

  /** Appends a decision to a rollout record (bounded), logs it and counts it. */
  private decide(
    model: string,
    rollout: RolloutRecord,
    decision: { decision: RolloutDecisionKind; reason: string; by: DecidedBy; analysis?: AnalysisSummary },
    nowMs: number,
  ): RolloutRecord {
    const entry: RolloutDecision = { at: iso(nowMs), step: rollout.step, percent: rollout.percent, ...decision };
    let decisions = [...rollout.decisions, entry];
    if (decisions.length > DECISION_LIMIT) decisions = [decisions[0]!, ...decisions.slice(decisions.length - DECISION_LIMIT + 1)];
    const line = {
      event: 'rollout_decision',
      model,
      rollout: rollout.id,
      decision: decision.decision,
      by: decision.by,
      from: rollout.spec.from,
      to: rollout.spec.to,
      step: rollout.step,
      percent: rollout.percent,
      reason: decision.reason,
      ...(decision.analysis !== undefined && { analysis: decision.analysis }),
    };
    const message = `rollout of ${model} v${rollout.spec.from}→v${rollout.spec.to}: ${decision.decision} at ${rollout.percent}%: ${decision.reason}`;
    if (decision.decision === 'rollback') this.logger.warn(line, message);
    else this.logger.info(line, message);
    this.options.metrics?.rolloutDecision(model, decision.decision);
    return { ...rollout, decisions };
  }

  /**
   * Reads, changes and writes one model's document with compare-and-set, one change per model at a
   * time; a write that loses to another replica is redone on what that replica wrote. `change`
   * returns undefined when there is nothing to write (or no longer anything to do).
   */
  private mutate(model: string, change: (doc: ModelRolloutDocument) => ModelRolloutDocument | undefined): Promise<void> {
    const previous = this.serials.get(model) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const entry = this.entries.get(model);
        const current = entry?.doc ?? emptyDocument();
        const doc = change(structuredClone(current));
        if (doc === undefined) return;
        const revision = await this.options.store.put(model, doc, entry?.revision ?? 0);
        if (revision !== undefined) {
          this.apply(model, doc, revision);
          return;
        }
        const fresh = await this.options.store.get(model);
        this.apply(model, fresh?.document ?? emptyDocument(), fresh?.revision ?? 0);
      }
      throw new ServingError('DATABASE_UNAVAILABLE', `the rollout state of model '${model}' kept changing under this write; try again`);
    });
    this.serials.set(model, next);
    void next.finally(() => this.serials.get(model) === next && this.serials.delete(model)).catch(() => undefined);
    return next;
  }

  /** Takes or renews the lease of a progressing rollout; a rollout this replica just took over resumes its step afresh. */
  private async claim(model: string): Promise<void> {
    const rollout = this.entries.get(model)?.doc.rollout;
    if (this.closed || rollout?.state !== 'progressing') return;
    const held = await this.options.store.acquireLease(model, this.owner, this.now(), this.leaseMs);
    const run = this.runs.get(model);
    if (!held) {
      if (run !== undefined) await this.stopRun(model, false);
      return;
    }
    if (run !== undefined || this.closed) return;
    const current = this.entries.get(model)?.doc.rollout;
    if (current?.id !== rollout.id || current.state !== 'progressing') return;
    if (this.fresh.delete(current.id)) {
      this.beginStep(model, current);
      return;
    }
    // Taken over (a restart, or the replica running it died): its window is gone, so the step starts again here.
    let resumed: RolloutRecord | undefined;
    await this.mutate(model, (doc) => {
      const r = doc.rollout;
      if (r?.id !== rollout.id || r.state !== 'progressing') return undefined;
      const nowMs = this.now();
      resumed = this.decide(model, { ...r, step_started_at: iso(nowMs) }, { decision: 'resume', reason: `replica ${this.owner} resumed step ${r.step + 1} at ${r.percent}% with a fresh window`, by: 'controller' }, nowMs);
      return { ...doc, rollout: resumed };
    });
    if (resumed !== undefined && !this.runs.has(model)) this.beginStep(model, resumed);
  }

  /** A fresh window for the rollout's current step, judged one interval from now. */
  private beginStep(model: string, rollout: RolloutRecord): void {
    const previous = this.runs.get(model);
    if (previous?.timer !== undefined) this.clock.clearTimer(previous.timer);
    const run: Run = { id: rollout.id, step: rollout.step, window: new AnalysisWindow(this.now(), this.options.random), timer: undefined };
    this.runs.set(model, run);
    this.schedule(model, run, rollout.spec.interval_ms);
  }

  private schedule(model: string, run: Run, delayMs: number): void {
    if (this.closed) return;
    run.timer = this.clock.setTimer(() => {
      run.timer = undefined;
      if (this.runs.get(model) === run) this.track(this.evaluate(model, run));
    }, Math.max(1, delayMs) * 1000);
  }

  private async stopRun(model: string, release: boolean): Promise<void> {
    const run = this.runs.get(model);
    if (run === undefined) return;
    this.runs.delete(model);
    if (run.timer !== undefined) this.clock.clearTimer(run.timer);
    if (release) await this.options.store.releaseLease(model, this.owner).catch(() => undefined);
  }

  /** Judges the step's window and acts on the verdict. */
  private async evaluate(model: string, run: Run): Promise<void> {
    const rollout = this.entries.get(model)?.doc.rollout;
    if (rollout?.id !== run.id || rollout.state !== 'progressing' || this.runs.get(model) !== run) return;
    const spec = rollout.spec;
    const nowMs = this.now();
    const versions = this.options.models.versions(model);
    const gone = [spec.from, spec.to].find((v) => versions?.get(v) !== 'READY');
    if (gone !== undefined) {
      await this.finish(model, run, 'rollback', `version ${gone} is ${versions?.get(gone) ?? 'gone'}, so the rollout cannot go on`);
      return;
    }
    const verdict = analyzeCanary(run.window, thresholdsOf(spec), nowMs);
    if (verdict.kind === 'fail') {
      await this.finish(model, run, 'rollback', verdict.reasons.join('; '), verdict.summary);
      return;
    }
    if (verdict.kind === 'inconclusive') {
      const waitedMs = nowMs - Date.parse(rollout.step_started_at);
      if (waitedMs >= spec.step_deadline_ms) {
        await this.finish(model, run, 'rollback', `inconclusive after ${Math.round(waitedMs / 1000)} s (step_deadline ${Math.round(spec.step_deadline_ms / 1000)} s): ${verdict.reasons.join('; ')}`, verdict.summary);
        return;
      }
      await this.mutate(model, (doc) => {
        const r = doc.rollout;
        if (r?.id !== run.id || r.state !== 'progressing' || r.step !== run.step) return undefined;
        return { ...doc, rollout: this.decide(model, r, { decision: 'wait', reason: verdict.reasons.join('; '), by: 'controller', analysis: verdict.summary }, nowMs) };
      });
      if (this.runs.get(model) === run) this.schedule(model, run, Math.min(spec.interval_ms, spec.step_deadline_ms - waitedMs));
      return;
    }
    const next = rollout.step + 1;
    const passed = `step ${rollout.step + 1} at ${rollout.percent}% passed`;
    if (next >= spec.steps.length || spec.steps[next]! >= 100) {
      await this.finish(model, run, 'promote', `${passed}, the last before 100%`, verdict.summary);
      return;
    }
    const percent = spec.steps[next]!;
    await this.mutate(model, (doc) => {
      const r = doc.rollout;
      if (r?.id !== run.id || r.state !== 'progressing' || r.step !== run.step) return undefined;
      const decided = this.decide(model, r, { decision: 'advance', reason: `${passed}; moving to ${percent}%`, by: 'controller', analysis: verdict.summary }, nowMs);
      return { ...doc, traffic: this.rolloutTraffic(spec, percent, nowMs), rollout: { ...decided, step: next, percent, step_started_at: iso(nowMs) } };
    });
  }

  /** Rolls back (traffic to the stable at once, before the store is written) or promotes, ending the run. */
  private async finish(model: string, run: Run, outcome: 'rollback' | 'promote', reason: string, analysis?: AnalysisSummary): Promise<void> {
    const spec = this.entries.get(model)!.doc.rollout!.spec;
    const target = outcome === 'rollback' ? spec.from : spec.to;
    if (outcome === 'rollback') this.setLocalPolicy(model, { weights: [{ version: target, weight: 100 }], stable: target, source: 'rollout' });
    await this.stopRun(model, false);
    try {
      await this.mutate(model, (doc) => {
        const r = doc.rollout;
        if (r?.id !== run.id || r.state !== 'progressing') return undefined;
        const nowMs = this.now();
        const state = outcome === 'rollback' ? 'rolled_back' : 'promoted';
        // The decision records the share it was taken at; the record then moves to its final share.
        const decided = this.decide(model, r, { decision: outcome, reason, by: 'controller', ...(analysis !== undefined && { analysis }) }, nowMs);
        const ended: RolloutRecord = { ...decided, state, percent: outcome === 'rollback' ? 0 : 100, finished_at: iso(nowMs), reason };
        return { ...doc, rollout: ended, traffic: this.pinned(target, 'rollout', nowMs) };
      });
    } finally {
      await this.options.store.releaseLease(model, this.owner).catch(() => undefined);
    }
  }

  private async startDeclared(model: string): Promise<void> {
    const declared = this.options.models.declared(model)?.rollout;
    if (declared === undefined || this.closed) return;
    const doc = this.entries.get(model)?.doc ?? emptyDocument();
    if ([doc.rollout, ...doc.history].some((r) => r?.spec.to === declared.to) || doc.rollout?.state === 'progressing') return;
    if (this.options.models.versions(model)?.get(declared.to) !== 'READY') return;
    try {
      await this.start(model, declared, 'config');
    } catch (error) {
      this.logger.error({ event: 'rollout_not_started', model, to: declared.to, err: error }, `config.yaml's rollout of ${model} to version ${declared.to} could not start: ${(error as Error).message}`);
    }
  }

  private gauges(): Array<{ model: string; shares: Map<number, number>; state: string | undefined; percent: number | undefined }> {
    return this.options.models.names().flatMap((model) => {
      const versions = this.options.models.versions(model);
      if (versions === undefined || versions.size === 0) return [];
      const status = this.trafficStatus(model, this.policy(model));
      const rollout = this.entries.get(model)?.doc.rollout;
      return [{ model, shares: new Map(status.versions.map((v) => [v.version, v.percent])), state: rollout?.state, percent: rollout?.percent }];
    });
  }
}

function requireReady(model: string, versions: ReadonlyMap<number, ModelState>, version: number, field: string): void {
  const state = versions.get(version);
  if (state === undefined) {
    throw new ServingError(
      'VERSION_NOT_FOUND',
      `${field}: model '${model}' has no version ${version} loaded (loaded: ${[...versions.keys()].join(', ') || 'none'}); its version_policy must keep both versions loaded, e.g. version_policy: { latest: { num_versions: 2 } }`,
    );
  }
  if (state !== 'READY') throw new ServingError('MODEL_NOT_READY', `${field}: model '${model}' version ${version} is ${state}`);
}

/** The history with the current rollout (if finished) added at its head. */
function retire(doc: ModelRolloutDocument): RolloutRecord[] {
  if (doc.rollout === null) return doc.history;
  return [doc.rollout, ...doc.history].slice(0, HISTORY_LIMIT);
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
