import type { ParsedRolloutConfig, TrafficConfig } from '../../src/config/traffic-config.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { ModelState } from '../../src/repository/model-state.js';
import { MemoryRolloutStore } from '../../src/router/memory-rollout-store.js';
import { RolloutController, type RolloutModels } from '../../src/router/rollout-controller.js';
import type { RolloutStore } from '../../src/router/rollout-store.js';
import { prng } from '../helpers/batch-data.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** The served models as the controller sees them, changed by the test. */
export class FakeModels implements RolloutModels {
  readonly states = new Map<string, Map<number, ModelState>>();
  readonly declarations = new Map<string, { traffic?: TrafficConfig; rollout?: ParsedRolloutConfig }>();

  constructor(models: Record<string, number[]> = { digits: [1, 2] }) {
    for (const [name, versions] of Object.entries(models)) this.states.set(name, new Map(versions.map((v) => [v, 'READY' as ModelState])));
  }

  names(): string[] {
    return [...this.states.keys()];
  }

  versions(model: string): ReadonlyMap<number, ModelState> | undefined {
    return this.states.get(model);
  }

  declared(model: string): { traffic?: TrafficConfig; rollout?: ParsedRolloutConfig } | undefined {
    return this.declarations.get(model);
  }
}

export const START_MS = Date.UTC(2026, 0, 5, 9, 0, 0);

/** A controller on a fake clock whose wall time starts at START_MS. */
export interface Harness {
  clock: FakeClock;
  models: FakeModels;
  store: RolloutStore;
  metrics: Metrics;
  controller: RolloutController;
  /** Moves the clock on, a second at a time, letting each second's work (syncs, evaluations) finish. */
  elapse(ms: number): Promise<void>;
  /** Requests the policy routed, as the router reports them. */
  feed(version: number, count: number, options?: { errorEvery?: number; latencyMs?: (i: number) => number }): void;
}

export async function harness(options: { store?: RolloutStore; models?: FakeModels; clock?: FakeClock; owner?: string; syncIntervalMs?: number } = {}): Promise<Harness> {
  const clock = options.clock ?? new FakeClock();
  const models = options.models ?? new FakeModels();
  const store = options.store ?? new MemoryRolloutStore();
  const metrics = new Metrics({ defaultMetrics: false });
  const controller = await RolloutController.open({
    store,
    models,
    clock,
    now: () => START_MS + clock.nowUs() / 1000,
    syncIntervalMs: options.syncIntervalMs ?? 1000,
    metrics,
    random: prng(3),
    ...(options.owner !== undefined && { owner: options.owner }),
  });
  const random = prng(17);
  return {
    clock,
    models,
    store,
    metrics,
    controller,
    async elapse(ms: number) {
      for (let left = ms; left > 0; left -= 1000) {
        clock.advance(Math.min(1000, left) * 1000);
        await controller.settled();
      }
    },
    feed(version, count, feedOptions = {}) {
      const latency = feedOptions.latencyMs ?? (() => 2 + random() * 2);
      for (let i = 0; i < count; i++) {
        const failed = feedOptions.errorEvery !== undefined && i % feedOptions.errorEvery === 0;
        controller.observe('digits', version, !failed, latency(i));
      }
    },
  };
}

/** A rollout of digits v1 → v2 with a one-minute interval and a small minimum sample. */
export const QUICK: ParsedRolloutConfig = { to: 2, interval: 60_000, min_requests: 50 };
