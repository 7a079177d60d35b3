// The latency half of `slipway edge`'s report: the bundle loaded in real (headless) Chromium from a
// local static server, once as a plain host (one wasm thread) and once cross-origin isolated (wasm
// threads, and WebGPU when the browser offers an adapter), timing load() and predict()/infer().
import { existsSync } from 'node:fs';
import { summarizeLatencies } from '../loadgen/latency-summary.js';
import { synthesizeRequest } from '../loadgen/synthesize-inputs.js';
import type { EdgeManifest } from './edge-manifest.js';
import { serveStatic } from './static-server.js';

// runInPage runs in the page, where these exist; the server side's own types have no DOM.
declare const location: { href: string };

/** Where Chromium is usually installed; SLIPWAY_CHROMIUM or --chromium wins. */
const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** Headless, and nothing the browser would fetch on its own (updates, sync), so timings are the bundle's. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** One execution provider's numbers, or why it could not be measured. */
export interface LatencyRun {
  backend: 'wasm' | 'webgpu';
  /** wasm threads used. */
  threads?: number;
  crossOriginIsolated: boolean;
  measured: boolean;
  /** Why it was not measured (no WebGPU adapter, the model did not load). */
  reason?: string;
  /** load(): onnxruntime-web, the graphs, the handler's setup. */
  loadMs?: number;
  p50Ms?: number;
  p95Ms?: number;
  runs?: number;
}

export interface LatencyReport {
  /** Chromium's version, or absent when it was not run. */
  browser?: string;
  /** What each run called: `predict(examples/3.png)` or `infer(synthesised tensors)`. */
  call?: string;
  runs: LatencyRun[];
  /** Why nothing was measured. */
  skipped?: string;
}

export interface MeasureOptions {
  /** Chromium's executable (default: SLIPWAY_CHROMIUM, else a usual install path). */
  executablePath?: string;
  /** Timed calls per execution provider after two warm-up calls (default 30). */
  runs?: number;
  /** Stop a provider's calls after this long, keeping at least 5 (default 30 s; OCR pages are slow on one thread). */
  budgetMs?: number;
}

type Input = { kind: 'example'; url: string; field: string } | { kind: 'infer'; body: unknown };

function chooseInput(manifest: EdgeManifest): { input: Input; call: string } | undefined {
  const handler = manifest.handler;
  const field = manifest.description.handler?.file_fields?.[0];
  const picture = manifest.examples.find((e) => e.kind === 'image' && e.url !== undefined);
  if (handler?.runs === 'device' && field !== undefined && picture !== undefined) {
    return { input: { kind: 'example', url: picture.url!, field }, call: `predict(${picture.url})` };
  }
  if (manifest.graph !== undefined) {
    const { body } = synthesizeRequest(manifest.graph.metadata.inputs, { batchSize: 1, shapes: {} });
    return { input: { kind: 'infer', body: JSON.parse(body.toString('utf8')) as unknown }, call: 'infer(synthesised tensors, batch 1)' };
  }
  return undefined;
}

function findChromium(explicit: string | undefined): string | undefined {
  const chosen = explicit ?? process.env.SLIPWAY_CHROMIUM;
  if (chosen !== undefined) return existsSync(chosen) ? chosen : undefined;
  return CHROMIUM_CANDIDATES.find((path) => existsSync(path));
}

/** The blank page the measurements run in, so the bundle's own page (which loads the model itself) stays out of it. */
const MEASURE_PAGE = '/__slipway_measure.html';

interface PageResult {
  measured: boolean;
  reason?: string;
  backend?: 'wasm' | 'webgpu';
  threads?: number;
  crossOriginIsolated: boolean;
  loadMs: number;
  times: number[];
}

/**
 * Loads the bundle in `dir` in headless Chromium and times it per execution provider: wasm on one
 * thread (a plain static host), wasm with threads and WebGPU (a cross-origin isolated host). Never
 * throws for a missing browser or playwright-core: the report says why it is empty.
 *
 * @example
 * const report = await measureInChromium('dist/digits-edge', manifest, { runs: 50 });
 * for (const run of report.runs) console.log(run.backend, run.threads, run.p50Ms, run.reason);
 */
export async function measureInChromium(dir: string, manifest: EdgeManifest, options: MeasureOptions = {}): Promise<LatencyReport> {
  const chosen = chooseInput(manifest);
  if (chosen === undefined) return { runs: [], skipped: 'nothing runs on the device to time: the handler runs on the server and there is no graph' };
  const executablePath = findChromium(options.executablePath);
  if (executablePath === undefined) return { runs: [], skipped: `no Chromium found (looked at ${options.executablePath ?? process.env.SLIPWAY_CHROMIUM ?? CHROMIUM_CANDIDATES.join(', ')}); pass --chromium PATH` };
  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch {
    return { runs: [], skipped: 'playwright-core is not installed (npm install playwright-core), so Chromium cannot be driven' };
  }
  const pages = { [MEASURE_PAGE]: '<!doctype html><meta charset="utf-8"><title>measure</title>' };
  const plain = await serveStatic(dir, { pages });
  const isolated = await serveStatic(dir, { isolate: true, pages });
  const browser = await playwright.chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  try {
    const runs: LatencyRun[] = [];
    const configs: Array<{ url: string; backend: 'wasm' | 'webgpu'; threads: number | 'all' }> = [
      { url: plain.url, backend: 'wasm', threads: 1 },
      { url: isolated.url, backend: 'wasm', threads: 'all' },
      ...(manifest.runtime.webgpu !== undefined ? [{ url: isolated.url, backend: 'webgpu' as const, threads: 'all' as const }] : []),
    ];
    for (const config of configs) {
      const page = await browser.newPage();
      try {
        await page.goto(`${config.url}${MEASURE_PAGE.slice(1)}`);
        const result = await page.evaluate(runInPage, { ...config, input: chosen.input, runs: options.runs ?? 30, budgetMs: options.budgetMs ?? 30_000 });
        const summary = summarizeLatencies(result.times);
        runs.push({
          backend: config.backend,
          ...(result.threads !== undefined && config.backend === 'wasm' && { threads: result.threads }),
          crossOriginIsolated: result.crossOriginIsolated,
          measured: result.measured,
          ...(result.reason !== undefined && { reason: result.reason }),
          loadMs: result.loadMs,
          ...(result.measured && { p50Ms: summary.p50Ms, p95Ms: summary.p95Ms, runs: summary.count }),
        });
      } finally {
        await page.close();
      }
    }
    return { browser: `Chromium ${browser.version()}`, call: chosen.call, runs };
  } finally {
    await browser.close();
    await Promise.all([plain.close(), isolated.close()]);
  }
}

/** Runs in the page: loads the bundle with one provider and times calls. */
async function runInPage(args: { backend: 'wasm' | 'webgpu'; threads: number | 'all'; input: Input; runs: number; budgetMs: number }): Promise<PageResult> {
  type Model = {
    load(o: object): Promise<{ mode: string; reason?: string; backend?: 'wasm' | 'webgpu'; threads?: number; crossOriginIsolated: boolean }>;
    predict(i: object): Promise<unknown>;
    infer(b: unknown): Promise<unknown>;
    close(): void;
  };
  const { EdgeModel } = (await import(new URL('./slipway.js', location.href).href)) as { EdgeModel: new (u: URL) => Model };
  const model = new EdgeModel(new URL('./', location.href));
  const started = performance.now();
  // 'all': the API's default, which is what a page gets (the cores, at most 4).
  const status = await model.load({ backend: args.backend, ...(args.threads !== 'all' && { threads: args.threads }), server: null, latencyBudgetMs: null });
  const loadMs = performance.now() - started;
  if (status.mode !== 'device') return { measured: false, reason: status.reason ?? 'it did not load', crossOriginIsolated: status.crossOriginIsolated, loadMs, times: [] };
  const input = args.input;
  const picture = input.kind === 'example' ? await (await fetch(new URL(input.url, location.href))).blob() : undefined;
  const call = () => (input.kind === 'example' ? model.predict({ [input.field]: picture }) : model.infer(input.body));
  await call();
  await call();
  const times: number[] = [];
  const begun = performance.now();
  while (times.length < args.runs && (times.length < 5 || performance.now() - begun < args.budgetMs)) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  model.close();
  return { measured: true, backend: status.backend!, threads: status.threads!, crossOriginIsolated: status.crossOriginIsolated, loadMs, times };
}
