import type { FileSize } from './bundle-sizes.js';
import { BROTLI_QUALITY } from './bundle-sizes.js';
import type { LatencyReport } from './chromium-latency.js';
import { PHONE_DOWNLOAD_LIMIT_BYTES, PHONE_MODEL_LIMIT_BYTES, type EdgeBundle, type EdgeSizes } from './edge-bundle.js';

/** `slipway edge`'s report: what a device downloads and how fast the model answers there (written as edge-report.json). */
export interface EdgeReport {
  model: string;
  dir: string;
  /** Where predict() runs, and why when it is the server. */
  handler: { runs: 'device' | 'server' | 'none'; reason?: string };
  sizes: EdgeSizes;
  /** gzip level 9; brotli at this quality. */
  compression: { gzipLevel: 9; brotliQuality: number };
  latency: LatencyReport;
  /** The phone thresholds the warnings use. */
  phone: { downloadLimitBytes: number; modelLimitBytes: number };
  warnings: string[];
}

export function edgeReport(bundle: EdgeBundle, latency: LatencyReport): EdgeReport {
  const handler = bundle.manifest.handler;
  return {
    model: bundle.manifest.model,
    dir: bundle.dir,
    handler: handler === undefined ? { runs: 'none' } : handler.runs === 'device' ? { runs: 'device' } : { runs: 'server', reason: handler.reason },
    sizes: bundle.sizes!,
    compression: { gzipLevel: 9, brotliQuality: BROTLI_QUALITY },
    latency,
    phone: { downloadLimitBytes: PHONE_DOWNLOAD_LIMIT_BYTES, modelLimitBytes: PHONE_MODEL_LIMIT_BYTES },
    warnings: bundle.warnings,
  };
}

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

const ms = (v: number | undefined): string => (v === undefined ? '-' : v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`);

/** The report as `slipway edge` prints it. */
export function formatEdgeReport(report: EdgeReport): string {
  const { sizes } = report;
  const rows: Array<[string, FileSize]> = [
    ['page, API and handler', sizes.app],
    ['onnxruntime-web (wasm)', sizes.runtime.wasm],
    ...(sizes.runtime.webgpu !== undefined ? [['onnxruntime-web (WebGPU)', sizes.runtime.webgpu] as [string, FileSize]] : []),
    ...Object.entries(sizes.models).map(([name, size]): [string, FileSize] => [`model ${name}`, size]),
    ...(sizes.files.bytes > 0 ? [['data files', sizes.files] as [string, FileSize]] : []),
    ['download, wasm device', sizes.download.wasm],
    ...(sizes.download.webgpu !== undefined ? [['download, WebGPU device', sizes.download.webgpu] as [string, FileSize]] : []),
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `${report.model} → ${report.dir}`,
    `  predict(): ${report.handler.runs === 'device' ? 'runs in the browser' : report.handler.runs === 'server' ? 'runs on the server only' : 'no handler (infer() only)'}`,
    '',
    `  ${''.padEnd(width)}  ${'stored'.padStart(9)}  ${'gzip'.padStart(9)}  ${`brotli ${report.compression.brotliQuality}`.padStart(9)}`,
    ...rows.map(([label, s]) => `  ${label.padEnd(width)}  ${bytes(s.bytes).padStart(9)}  ${bytes(s.gzip).padStart(9)}  ${bytes(s.brotli).padStart(9)}`),
    '',
  ];
  const { latency } = report;
  if (latency.skipped !== undefined) lines.push(`  latency: not measured: ${latency.skipped}`);
  else {
    lines.push(`  latency in ${latency.browser}, ${latency.call}:`);
    const label = (run: (typeof latency.runs)[number]): string =>
      `${run.backend === 'webgpu' ? 'WebGPU' : `wasm, ${run.threads ?? '?'} thread${run.threads === 1 ? '' : 's'}`}${run.crossOriginIsolated ? ' (cross-origin isolated)' : ' (plain host)'}`;
    const width = Math.max(...latency.runs.map((run) => label(run).length));
    for (const run of latency.runs) {
      const text = label(run).padEnd(width);
      lines.push(
        run.measured
          ? `    ${text}  load ${ms(run.loadMs).padStart(8)}  p50 ${ms(run.p50Ms).padStart(8)}  p95 ${ms(run.p95Ms).padStart(8)}  (${run.runs} calls)`
          : `    ${text}  not measured: ${run.reason}`,
      );
    }
  }
  for (const warning of report.warnings) lines.push(`  warning: ${warning}`);
  return lines.join('\n');
}
