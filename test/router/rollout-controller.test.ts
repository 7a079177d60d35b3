import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MemoryRolloutStore } from '../../src/router/memory-rollout-store.js';
import { SqliteRolloutStore } from '../../src/router/sqlite-rollout-store.js';
import type { RolloutStore } from '../../src/router/rollout-store.js';
import { tempDir } from '../helpers/batch-data.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { FakeModels, QUICK, START_MS, harness, type Harness } from './rollout-harness.js';

const decisions = (h: Harness) => h.controller.status('digits').rollout!.decisions.map((d) => d.decision);
const shares = (h: Harness) => Object.fromEntries(h.controller.status('digits').traffic.versions.map((v) => [v.version, v.percent]));

/** One interval of healthy traffic at the current split (900 stable, 100 candidate, scaled by the share). */
function healthyStep(h: Harness, percent: number): void {
  h.feed(2, Math.max(60, 10 * percent));
  h.feed(1, Math.max(60, 10 * (100 - percent)));
}

describe('a rollout on a fake clock', () => {
  test('a healthy candidate goes through every step (10→25→50) and is promoted, each decision stored, logged and counted', async () => {
    const h = await harness();
    const started = await h.controller.start('digits', QUICK);
    assert.equal(started.rollout!.state, 'progressing');
    assert.deepEqual(started.traffic.versions.map((v) => [v.version, v.weight, v.percent]), [[1, 90, 90], [2, 10, 10]]);
    assert.deepEqual(h.controller.policy('digits')!.weights, [{ version: 1, weight: 90 }, { version: 2, weight: 10 }]);
    for (const percent of [10, 25, 50]) {
      assert.equal(h.controller.status('digits').rollout!.percent, percent);
      healthyStep(h, percent);
      await h.elapse(59_000);
      assert.equal(h.controller.status('digits').rollout!.percent, percent, 'nothing is decided before the interval');
      await h.elapse(1000);
    }
    const done = h.controller.status('digits');
    assert.equal(done.rollout!.state, 'promoted');
    assert.deepEqual(decisions(h), ['start', 'advance', 'advance', 'promote']);
    assert.deepEqual(shares(h), { 1: 0, 2: 100 });
    assert.equal(done.traffic.stable, 2, 'the promoted version is the stable one now');
    const advance = done.rollout!.decisions[1]!;
    assert.equal(advance.by, 'controller');
    assert.equal(advance.analysis!.candidate.requests, 100);
    assert.equal(advance.analysis!.stable.requests, 900);
    assert.equal(advance.analysis!.window_ms, 60_000);
    const text = await h.metrics.registry.metrics();
    assert.match(text, /slipway_rollout_decisions_total\{model="digits",decision="advance"\} 2/);
    assert.match(text, /slipway_rollout_state\{model="digits",state="promoted"\} 1/);
    assert.match(text, /slipway_traffic_share_percent\{model="digits",version="2"\} 100/);
    await h.controller.close();
  });

  test('custom steps that stop below 100% promote after their last step', async () => {
    const h = await harness();
    await h.controller.start('digits', { ...QUICK, steps: [5, 50] });
    for (const percent of [5, 50]) {
      healthyStep(h, percent);
      await h.elapse(60_000);
    }
    assert.equal(h.controller.status('digits').rollout!.state, 'promoted');
    assert.deepEqual(decisions(h), ['start', 'advance', 'promote']);
    await h.controller.close();
  });

  test('error rate: a candidate failing 10% of its requests rolls back at once, all traffic to the stable, the candidate still loaded', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    h.feed(2, 100, { errorEvery: 10 });
    h.feed(1, 900);
    await h.elapse(60_000);
    const status = h.controller.status('digits');
    assert.equal(status.rollout!.state, 'rolled_back');
    assert.match(status.rollout!.reason!, /success rate 90\.00% is below 99\.00% and below the stable's 100\.00%/);
    assert.deepEqual(shares(h), { 1: 100, 2: 0 });
    assert.equal(h.models.versions('digits')!.get(2), 'READY', 'the candidate stays loaded for inspection');
    const last = status.rollout!.decisions.at(-1)!;
    assert.equal(last.decision, 'rollback');
    assert.equal(last.analysis!.candidate.errors, 10);
    await h.controller.close();
  });

  test('error rate: failures the stable has as often (bad requests) are not the candidate’s regression', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    h.feed(2, 100, { errorEvery: 20 });
    h.feed(1, 900, { errorEvery: 20 });
    await h.elapse(60_000);
    assert.equal(h.controller.status('digits').rollout!.percent, 25);
    await h.controller.close();
  });

  test('error rate: min_success_rate is the bar (0.8 tolerates 10% failures)', async () => {
    const h = await harness();
    await h.controller.start('digits', { ...QUICK, min_success_rate: 0.8 });
    h.feed(2, 100, { errorEvery: 10 });
    h.feed(1, 900);
    await h.elapse(60_000);
    assert.equal(h.controller.status('digits').rollout!.percent, 25);
    await h.controller.close();
  });

  test('latency: a candidate 3× slower at p99 (and by Mann-Whitney) rolls back', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    h.feed(2, 100, { latencyMs: (i) => 6 + (i % 10) });
    h.feed(1, 900, { latencyMs: (i) => 2 + (i % 10) * 0.3 });
    await h.elapse(60_000);
    const status = h.controller.status('digits');
    assert.equal(status.rollout!.state, 'rolled_back');
    assert.match(status.rollout!.reason!, /p99 latency 15\.0 ms is 3\.\d\d× the stable's 4\.70 ms \(limit 1\.5×\), and slower by Mann-Whitney U \(p < 0\.0001\)/);
    await h.controller.close();
  });

  test('latency: a p99 over the ratio from a few outliers, with no shift in the distribution, is noise and passes', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    // Same spread; the candidate's two slowest requests are 10× slower (a GC pause, say).
    h.feed(2, 100, { latencyMs: (i) => (i < 2 ? 40 : 1 + (i % 50) * 0.1) });
    h.feed(1, 900, { latencyMs: (i) => 1 + (i % 50) * 0.1 });
    await h.elapse(60_000);
    const status = h.controller.status('digits');
    assert.equal(status.rollout!.percent, 25, status.rollout!.reason ?? '');
    const analysis = status.rollout!.decisions.at(-1)!.analysis!;
    assert.ok(analysis.p99_ratio! > 1.5, `p99 ratio ${analysis.p99_ratio}`);
    assert.ok(analysis.latency_p_value! > 0.05, `p = ${analysis.latency_p_value}`);
    await h.controller.close();
  });

  test('latency: max_p99_ms bounds the candidate even when the ratio holds', async () => {
    const h = await harness();
    await h.controller.start('digits', { ...QUICK, max_p99_ms: 5, max_p99_ratio: 10 });
    h.feed(2, 100, { latencyMs: (i) => 4 + (i % 10) * 0.3 });
    h.feed(1, 900, { latencyMs: (i) => 2 + (i % 10) * 0.2 });
    await h.elapse(60_000);
    assert.match(h.controller.status('digits').rollout!.reason!, /over the 5\.00 ms bound/);
    await h.controller.close();
  });

  test('shadow agreement: with shadow_percent, the candidate’s copies must agree with the stable’s answers', async () => {
    const h = await harness();
    const status = await h.controller.start('digits', { ...QUICK, shadow_percent: 20, min_agreement: 0.95 });
    assert.deepEqual(status.traffic.shadow, { version: 2, percent: 20, compare: 'auto', tolerance: 1e-4 });
    healthyStep(h, 10);
    for (let i = 0; i < 100; i++) h.controller.observeShadow('digits', 2, i % 10 === 0 ? 'disagree' : 'agree');
    h.controller.observeShadow('digits', 2, 'shed');
    await h.elapse(60_000);
    const after = h.controller.status('digits');
    assert.equal(after.rollout!.state, 'rolled_back');
    assert.match(after.rollout!.reason!, /shadow agreement 90\.00% is below 95\.00% \(10 disagreed, 0 failed, of 100\)/);
    assert.equal(after.traffic.shadow, null, 'mirroring stops with the rollout');
    await h.controller.close();
  });

  test('minimum sample: too few requests waits (no promotion, no rollback), then a full window advances', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    h.feed(2, 10);
    h.feed(1, 90);
    await h.elapse(60_000);
    let status = h.controller.status('digits');
    assert.equal(status.rollout!.state, 'progressing');
    assert.equal(status.rollout!.percent, 10);
    assert.deepEqual(decisions(h), ['start', 'wait']);
    assert.match(status.rollout!.decisions[1]!.reason, /too few requests: candidate 10, stable 90, each needs 50/);
    // The window keeps what it had: 40 more candidate requests make 50.
    h.feed(2, 40);
    h.feed(1, 400);
    await h.elapse(60_000);
    status = h.controller.status('digits');
    assert.equal(status.rollout!.percent, 25);
    assert.deepEqual(decisions(h), ['start', 'wait', 'advance']);
    await h.controller.close();
  });

  test('minimum sample: a breach that shows once enough requests arrived rolls back within one interval of it', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    h.feed(2, 20, { errorEvery: 4 });
    h.feed(1, 200);
    await h.elapse(60_000);
    assert.deepEqual(decisions(h), ['start', 'wait'], 'five failures in twenty is not judged yet');
    h.feed(2, 40, { errorEvery: 4 });
    h.feed(1, 400);
    await h.elapse(60_000);
    assert.equal(h.controller.status('digits').rollout!.state, 'rolled_back');
    await h.controller.close();
  });

  test('minimum sample: a step that never gets enough requests rolls back as inconclusive at its deadline', async () => {
    const h = await harness();
    await h.controller.start('digits', { ...QUICK, step_deadline: 180_000 });
    for (let minute = 1; minute <= 2; minute++) {
      h.feed(2, 3);
      h.feed(1, 30);
      await h.elapse(60_000);
      assert.equal(h.controller.status('digits').rollout!.state, 'progressing', `minute ${minute}`);
    }
    await h.elapse(60_000);
    const status = h.controller.status('digits');
    assert.equal(status.rollout!.state, 'rolled_back');
    assert.match(status.rollout!.reason!, /^inconclusive after 180 s \(step_deadline 180 s\): too few requests: candidate 6, stable 60/);
    assert.deepEqual(decisions(h), ['start', 'wait', 'wait', 'rollback']);
    assert.deepEqual(shares(h), { 1: 100, 2: 0 });
    await h.controller.close();
  });

  test('a version unloaded during the rollout rolls it back', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    h.models.states.get('digits')!.set(2, 'UNLOADING');
    await h.elapse(60_000);
    assert.match(h.controller.status('digits').rollout!.reason!, /version 2 is UNLOADING/);
    await h.controller.close();
  });
});

describe('rollback and promote by hand', () => {
  test('rollback puts every request on the stable version at once and ends the rollout', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    const status = await h.controller.rollback('digits', 'looks wrong in the dashboard');
    assert.equal(status.rollout!.state, 'rolled_back');
    assert.equal(status.rollout!.reason, 'looks wrong in the dashboard');
    assert.equal(status.rollout!.decisions.at(-1)!.by, 'admin');
    assert.deepEqual(h.controller.policy('digits')!.weights, [{ version: 1, weight: 100 }]);
    // Rolling back again is harmless; a new rollout can start after.
    await h.controller.rollback('digits');
    assert.equal((await h.controller.start('digits', QUICK)).rollout!.state, 'progressing');
    assert.equal(h.controller.status('digits').history.length, 1);
    await h.controller.close();
  });

  test('the local policy changes before the store is written: a rollback works even when the store is down', async () => {
    const store = new MemoryRolloutStore();
    const h = await harness({ store });
    await h.controller.start('digits', QUICK);
    const broken = Object.assign(store, { put: async () => Promise.reject(new Error('disk full')) });
    void broken;
    await assert.rejects(h.controller.rollback('digits'), /disk full/);
    assert.deepEqual(h.controller.policy('digits')!.weights, [{ version: 1, weight: 100 }]);
    await h.controller.close();
  });

  test('rollback without a rollout pins a config.yaml split to its stable version', async () => {
    const models = new FakeModels();
    models.declarations.set('digits', { traffic: { weights: { '1': 70, '2': 30 } } });
    const h = await harness({ models });
    assert.deepEqual(shares(h), { 1: 70, 2: 30 });
    const status = await h.controller.rollback('digits');
    assert.deepEqual(shares(h), { 1: 100, 2: 0 });
    assert.equal(status.traffic.source, 'admin');
    await h.controller.close();
  });

  test('promote gives the candidate every request and skips the remaining steps', async () => {
    const h = await harness();
    await h.controller.start('digits', QUICK);
    const status = await h.controller.promote('digits');
    assert.equal(status.rollout!.state, 'promoted');
    assert.deepEqual(shares(h), { 1: 0, 2: 100 });
    await assert.rejects(h.controller.promote('digits'), { code: 'ROLLOUT_NOT_FOUND' });
    await h.controller.close();
  });
});

describe('what a rollout refuses', () => {
  test('one rollout per model at a time; unknown, unloaded or identical versions; a first step of 100%', async () => {
    const models = new FakeModels({ digits: [1, 2, 3] });
    models.states.get('digits')!.set(3, 'LOADING');
    const h = await harness({ models });
    await assert.rejects(h.controller.start('nope', QUICK), { code: 'MODEL_NOT_FOUND' });
    await assert.rejects(h.controller.start('digits', { ...QUICK, to: 9 }), (e: Error & { code?: string }) => e.code === 'VERSION_NOT_FOUND' && /num_versions: 2/.test(e.message));
    await assert.rejects(h.controller.start('digits', { ...QUICK, to: 3 }), { code: 'MODEL_NOT_READY', message: /to: model 'digits' version 3 is LOADING/ });
    await assert.rejects(h.controller.start('digits', { ...QUICK, to: 2, from: 2 }), { code: 'INVALID_INPUT', message: /already the stable version/ });
    await assert.rejects(h.controller.start('digits', { ...QUICK, steps: [100] }), { code: 'INVALID_INPUT', message: /first step must be below 100%/ });
    await assert.rejects(h.controller.start('digits', { ...QUICK, step_deadline: 1000 }), { code: 'INVALID_INPUT', message: /step_deadline/ });
    await h.controller.start('digits', QUICK);
    await assert.rejects(h.controller.start('digits', QUICK), { code: 'ROLLOUT_CONFLICT' });
    await assert.rejects(h.controller.setTraffic('digits', { weights: { '1': 50, '2': 50 } }), { code: 'ROLLOUT_CONFLICT' });
    await h.controller.close();
  });

  test('the stable version defaults to the one taking most traffic (here, a hand-set split)', async () => {
    const models = new FakeModels({ digits: [1, 2, 3] });
    const h = await harness({ models });
    await h.controller.setTraffic('digits', { weights: { '2': 100 } });
    const status = await h.controller.start('digits', { ...QUICK, to: 3 });
    assert.equal(status.rollout!.spec.from, 2);
    await h.controller.close();
  });

  test('hand-set traffic: READY versions only, the stable must take traffic, DELETE returns to config.yaml', async () => {
    const models = new FakeModels({ digits: [1, 2, 3] });
    models.states.get('digits')!.set(3, 'UNAVAILABLE');
    models.declarations.set('digits', { traffic: { weights: { '1': 100 } } });
    const h = await harness({ models });
    await assert.rejects(h.controller.setTraffic('digits', { weights: { '1': 50, '3': 50 } }), { message: /weights\.3: model 'digits' version 3 is UNAVAILABLE/ });
    await assert.rejects(h.controller.setTraffic('digits', { weights: { '1': 0, '2': 100 }, stable: 1 }), { message: /stable: version 1 has no weight/ });
    const set = await h.controller.setTraffic('digits', { weights: { '1': 50, '2': 50 }, shadow: { version: 2, percent: 5 } });
    assert.equal(set.traffic.source, 'admin');
    assert.deepEqual(shares(h), { 1: 50, 2: 50, 3: 0 });
    const cleared = await h.controller.clearTraffic('digits');
    assert.equal(cleared.traffic.source, 'config');
    assert.deepEqual(shares(h), { 1: 100, 2: 0, 3: 0 });
    await h.controller.close();
  });
});

describe('config.yaml declares a rollout', () => {
  test('its candidate gets no traffic until its rollout starts, which happens once it is READY, and only once', async () => {
    const models = new FakeModels({ digits: [1] });
    models.declarations.set('digits', { rollout: QUICK });
    const h = await harness({ models });
    assert.equal(h.controller.status('digits').rollout, null);
    // Version 2 appears (a poll, a repository load): READY, but the newest-wins default must not hand it everything.
    models.states.get('digits')!.set(2, 'LOADING');
    h.controller.modelChanged('digits');
    models.states.get('digits')!.set(2, 'READY');
    assert.deepEqual(h.controller.policy('digits')!.weights, [{ version: 1, weight: 100 }]);
    h.controller.modelChanged('digits');
    await h.controller.settled();
    const status = h.controller.status('digits');
    assert.equal(status.rollout!.state, 'progressing');
    assert.equal(status.rollout!.decisions[0]!.by, 'config');
    assert.deepEqual(shares(h), { 1: 90, 2: 10 });
    await h.controller.rollback('digits');
    h.controller.modelChanged('digits');
    await h.controller.settled();
    assert.equal(h.controller.status('digits').rollout!.state, 'rolled_back', 'a declared rollout runs once per version');
    await h.controller.close();
  });
});

describe('restarts and replicas', () => {
  test('a restart in the middle of a rollout resumes it at the same step from the store (SQLite)', async () => {
    const { dir, remove } = await tempDir('slipway-rollout-restart-');
    try {
      const path = join(dir, 'rollouts.db');
      const clock = new FakeClock();
      const first = await harness({ store: SqliteRolloutStore.open(path), clock });
      await first.controller.start('digits', QUICK);
      healthyStep(first, 10);
      await first.elapse(60_000);
      assert.equal(first.controller.status('digits').rollout!.percent, 25);
      await first.controller.close();
      await first.store.close();

      // The same replica starts again: same clock, a new process, the same file.
      const second = await harness({ store: SqliteRolloutStore.open(path), clock });
      await second.controller.settled();
      let status = second.controller.status('digits');
      assert.equal(status.rollout!.state, 'progressing');
      assert.equal(status.rollout!.percent, 25);
      assert.deepEqual(second.controller.policy('digits')!.weights, [{ version: 1, weight: 75 }, { version: 2, weight: 25 }]);
      assert.deepEqual(decisions(second), ['start', 'advance', 'resume']);
      for (const percent of [25, 50]) {
        healthyStep(second, percent);
        await second.elapse(60_000);
      }
      status = second.controller.status('digits');
      assert.equal(status.rollout!.state, 'promoted');
      assert.deepEqual(decisions(second), ['start', 'advance', 'resume', 'advance', 'promote']);
      await second.controller.close();
      await second.store.close();
    } finally {
      await remove();
    }
  });

  test('replicas on one store agree within a sync; when the one running the analysis dies, another takes it over after its lease', async () => {
    const store: RolloutStore = new MemoryRolloutStore();
    const deadClock = new FakeClock();
    const a = await harness({ store, owner: 'replica-a', clock: deadClock });
    const clock = new FakeClock();
    const b = await harness({ store, owner: 'replica-b', clock });
    await a.controller.start('digits', QUICK);
    assert.equal(b.controller.policy('digits'), undefined, 'b has not read the store yet');
    await b.elapse(1000);
    assert.deepEqual(b.controller.policy('digits')!.weights, [{ version: 1, weight: 90 }, { version: 2, weight: 10 }], 'b agrees after one sync');
    // a's clock never moves again: it has died holding the lease (5 s by default) since START_MS.
    await b.elapse(4000);
    assert.deepEqual(decisions(b), ['start'], 'the lease still runs');
    await b.elapse(2000);
    assert.deepEqual(decisions(b), ['start', 'resume']);
    healthyStep(b, 10);
    await b.elapse(60_000);
    assert.equal(b.controller.status('digits').rollout!.percent, 25);
    // A rollback on either replica ends it for both.
    await b.controller.rollback('digits');
    await a.controller.sync();
    assert.equal(a.controller.status('digits').rollout!.state, 'rolled_back');
    assert.deepEqual(a.controller.policy('digits')!.weights, [{ version: 1, weight: 100 }]);
    await b.controller.close();
    await a.controller.close();
  });

  test('two replicas writing at once never lose a decision (compare-and-set), and one rollout wins', async () => {
    const store = new MemoryRolloutStore();
    const a = await harness({ store, owner: 'a' });
    const b = await harness({ store, owner: 'b' });
    const results = await Promise.allSettled([a.controller.start('digits', QUICK), b.controller.start('digits', { ...QUICK, steps: [20, 100] })]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.equal((rejected.reason as { code?: string }).code, 'ROLLOUT_CONFLICT');
    await a.controller.sync();
    await b.controller.sync();
    assert.equal(a.controller.status('digits').rollout!.id, b.controller.status('digits').rollout!.id);
    assert.equal(a.controller.status('digits').revision, b.controller.status('digits').revision);
    await a.controller.close();
    await b.controller.close();
  });
});

test('names the server does not serve get no policy and leave nothing behind (request paths are not to be trusted)', async () => {
  const h = await harness();
  h.controller.policy('digits');
  for (let i = 0; i < 1000; i++) assert.equal(h.controller.policy(`nope-${i}`), undefined);
  assert.equal((h.controller as unknown as { entries: Map<string, unknown> }).entries.size, 1, 'only digits');
  await h.controller.close();
});

test('START_MS is the wall time the stored decisions carry', async () => {
  const h = await harness();
  const status = await h.controller.start('digits', QUICK);
  assert.equal(status.rollout!.started_at, new Date(START_MS).toISOString());
  await h.controller.close();
});
