/** What `slipway optimize` writes beside the new version as `optimize-report.json`. */
export interface OptimizeReport {
  model: string;
  /** The float version it was made from, and the version it was written as. */
  sourceVersion: number;
  version: number;
  createdAt: string;
  /** `int8-dynamic`, `int8-static` or `fp16`. */
  method: 'int8-dynamic' | 'int8-static' | 'fp16';
  /** The options it ran with, as given on the command line. */
  options: Record<string, unknown>;
  transform: {
    /** Nodes rewritten (quantized, or computing in float16). */
    changed: number;
    /** Nodes of a candidate type left as they were, with the reason. */
    skipped: Array<{ node: string; reason: string }>;
    opset: { from: number; to: number };
    notes: string[];
    calibration?: { method: string; percentile?: number; rows: number; files: string[]; tensors: number };
  };
  size: { sourceBytes: number; optimizedBytes: number; ratio: number };
  speed?: SpeedReport;
  accuracy?: AccuracyReport;
}

export interface SpeedPoint {
  batchSize: number;
  source: { rowsPerSecond: number; p50Ms: number; p99Ms: number };
  optimized: { rowsPerSecond: number; p50Ms: number; p99Ms: number };
}

export interface SpeedReport {
  /** Where it was measured: the engine, provider and machine. */
  measuredOn: string;
  /** Model instances × threads each (the server's default layout on this machine). */
  instances: string;
  secondsPerPoint: number;
  /** Batch 1, one request at a time: latency. */
  latency: SpeedPoint;
  /** Each batch size tried, with as many requests in flight as instances × 2. */
  throughput: SpeedPoint[];
  /** The batch size with the most rows per second for each version, and the ratio of those bests. */
  best: { sourceBatchSize: number; optimizedBatchSize: number; ratio: number };
}

export interface AccuracyReport {
  /** The held-out set's files and rows. */
  files: string[];
  rows: number;
  outputs: Array<{ name: string; maxAbsDiff: number; meanAbsDiff: number }>;
  classifier?: {
    output: string;
    /** Share of rows where both versions pick the same class. */
    top1Agreement: number;
    /** With --label: accuracy of each version and the change in points (optimized − source, ×100). */
    sourceAccuracy?: number;
    optimizedAccuracy?: number;
    deltaPoints?: number;
  };
  /** A handler-defined metric (e.g. the OCR pipeline's character accuracy), when one was measured. */
  metric?: { name: string; source: number; optimized: number; deltaPoints: number };
}

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const num = (v: number, digits = 1): string => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const bytes = (v: number): string => (v >= 1024 * 1024 ? `${(v / 1024 / 1024).toFixed(2)} MB` : `${(v / 1024).toFixed(1)} KB`);

/**
 * The report as the terminal table `slipway optimize` prints.
 *
 * @example
 * process.stdout.write(formatReport(report));
 */
export function formatReport(report: OptimizeReport): string {
  const rows: Array<[string, string, string, string]> = [['', `v${report.sourceVersion} (float)`, `v${report.version} (${report.method})`, 'change']];
  rows.push(['size', bytes(report.size.sourceBytes), bytes(report.size.optimizedBytes), `×${report.size.ratio.toFixed(2)}`]);
  const speed = report.speed;
  if (speed !== undefined) {
    rows.push([
      'latency, batch 1 (p50 / p99)',
      `${num(speed.latency.source.p50Ms, 2)} / ${num(speed.latency.source.p99Ms, 2)} ms`,
      `${num(speed.latency.optimized.p50Ms, 2)} / ${num(speed.latency.optimized.p99Ms, 2)} ms`,
      `×${(speed.latency.source.p50Ms / speed.latency.optimized.p50Ms).toFixed(2)} faster`,
    ]);
    for (const point of speed.throughput) {
      rows.push([`throughput, batch ${point.batchSize}`, `${num(point.source.rowsPerSecond, 0)} rows/s`, `${num(point.optimized.rowsPerSecond, 0)} rows/s`, `×${(point.optimized.rowsPerSecond / point.source.rowsPerSecond).toFixed(2)}`]);
    }
    rows.push(['best throughput', `batch ${speed.best.sourceBatchSize}`, `batch ${speed.best.optimizedBatchSize}`, `×${speed.best.ratio.toFixed(2)}`]);
  }
  const accuracy = report.accuracy;
  if (accuracy !== undefined) {
    const c = accuracy.classifier;
    if (c?.sourceAccuracy !== undefined && c.optimizedAccuracy !== undefined) {
      rows.push([`accuracy (${accuracy.rows} rows)`, pct(c.sourceAccuracy), pct(c.optimizedAccuracy), `${c.deltaPoints! >= 0 ? '+' : ''}${c.deltaPoints!.toFixed(2)} points`]);
    }
    if (c !== undefined) rows.push(['top-1 agreement', '', pct(c.top1Agreement), '']);
    if (accuracy.metric !== undefined) {
      const m = accuracy.metric;
      rows.push([m.name, pct(m.source), pct(m.optimized), `${m.deltaPoints >= 0 ? '+' : ''}${m.deltaPoints.toFixed(2)} points`]);
    }
    for (const o of accuracy.outputs) rows.push([`${o.name}: max / mean abs. difference`, '', `${o.maxAbsDiff.toExponential(2)} / ${o.meanAbsDiff.toExponential(2)}`, '']);
  }
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  const lines = [
    `${report.model} v${report.sourceVersion} → v${report.version}: ${report.method}, ${report.transform.changed} nodes changed, ${report.transform.skipped.length} left as they were` +
      (report.transform.opset.to !== report.transform.opset.from ? `, opset ${report.transform.opset.from} → ${report.transform.opset.to}` : ''),
    line(rows[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.slice(1).map(line),
  ];
  if (speed !== undefined) lines.push(`measured on ${speed.measuredOn}, ${speed.instances}, ${speed.secondsPerPoint} s per point`);
  for (const note of report.transform.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}
