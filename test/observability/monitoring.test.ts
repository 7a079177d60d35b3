import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { EXAMPLES, ROOT } from '../helpers/paths.js';
import { requireCommand } from '../helpers/requirements.js';
import { post, startTestServer } from '../helpers/test-server.js';

const run = promisify(execFile);
const MONITORING = join(ROOT, 'deploy/monitoring');
const METRIC_NAME = /\b(slipway_[a-z_]+|nodejs_[a-z_0-9]+|process_[a-z_]+)\b/g;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Metric names (without _bucket/_sum/_count) that a running server exports. */
async function exportedNames(url: string): Promise<Set<string>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) /.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}

function referenced(expressions: string[]): Set<string> {
  const names = new Set<string>();
  for (const e of expressions) for (const m of e.matchAll(METRIC_NAME)) names.add(m[1]!.replace(/_(bucket|sum|count)$/, ''));
  return names;
}

describe('monitoring assets', () => {
  test('the dashboard and the alert rules reference only metrics the server exports', async () => {
    const server = await startTestServer({ models: `${EXAMPLES}/digits` });
    try {
      const exported = await exportedNames(server.url);
      const dashboard = JSON.parse(await readFile(join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as {
        panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
      };
      const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
      assert.ok(exprs.length >= 10);
      const rules = await readFile(join(MONITORING, 'alert-rules.yml'), 'utf8');
      for (const name of referenced([...exprs, rules])) assert.ok(exported.has(name), `${name} is used but not exported`);
      for (const title of ['Throughput', 'Error rate', 'Latency p50 / p99', 'Queue depth', 'Batch size', 'Cache hit ratio', 'Worker busy ratio']) {
        assert.ok(dashboard.panels.some((p) => p.title.startsWith(title)), `no '${title}' panel`);
      }
    } finally {
      await server.close();
    }
  });

  test('promtool accepts the alert rules and the scrape config', requireCommand('promtool'), async () => {
    const rules = await run('promtool', ['check', 'rules', join(MONITORING, 'alert-rules.yml')]);
    assert.match(rules.stdout, /SUCCESS: 8 rules found/);
    await run('promtool', ['check', 'config', join(MONITORING, 'prometheus.yml')]);
  });

  test('a real Prometheus scrapes Slipway and PromQL returns the request count sent', requireCommand('prometheus'), async () => {
    const server = await startTestServer({ models: `${EXAMPLES}/digits` });
    const dir = await mkdtemp(join(tmpdir(), 'slipway-prom-'));
    const port = await freePort();
    const target = new URL(server.url).host;
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: slipway\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const prometheus = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: 'ignore' },
    );
    try {
      const sent = 17;
      const body = { inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 1, 8, 8], data: new Array(64).fill(1) }] };
      for (let i = 0; i < sent; i++) assert.equal((await post(`${server.url}/v2/models/digits/infer`, body)).status, 200);
      const query = 'sum(slipway_requests_total{job="slipway",model="digits",outcome="success"})';
      let value = Number.NaN;
      for (let i = 0; i < 120 && value !== sent; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`).catch(() => undefined);
        if (response === undefined || !response.ok) continue;
        const result = (await response.json()) as { data: { result: Array<{ value: [number, string] }> } };
        if (result.data.result.length > 0) value = Number(result.data.result[0]!.value[1]);
      }
      assert.equal(value, sent);
    } finally {
      prometheus.kill('SIGTERM');
      await new Promise((resolve) => prometheus.once('exit', resolve));
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
