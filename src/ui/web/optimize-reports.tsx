import { useEffect, useState } from 'preact/hooks';
import type { OptimizeReport } from '../../optimize/optimize-report.js';
import { getJson, modelPath } from './api.js';

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const mb = (bytes: number): string => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MB` : `${(bytes / 1024).toFixed(1)} KB`);
const rows = (v: number): string => `${Math.round(v).toLocaleString()} rows/s`;
const points = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(2)} points`;

function ReportTable({ report }: { report: OptimizeReport }) {
  const { speed, accuracy } = report;
  const classifier = accuracy?.classifier;
  const lines: Array<[string, string, string, string]> = [['size', mb(report.size.sourceBytes), mb(report.size.optimizedBytes), `×${report.size.ratio.toFixed(2)}`]];
  if (speed !== undefined) {
    const l = speed.latency;
    lines.push(['latency, batch 1 (p50)', `${l.source.p50Ms.toFixed(2)} ms`, `${l.optimized.p50Ms.toFixed(2)} ms`, `×${(l.source.p50Ms / l.optimized.p50Ms).toFixed(2)} faster`]);
    const best = (b: number) => speed.throughput.find((p) => p.batchSize === b);
    const s = best(speed.best.sourceBatchSize);
    const o = best(speed.best.optimizedBatchSize);
    if (s !== undefined && o !== undefined) {
      lines.push(['best throughput', `${rows(s.source.rowsPerSecond)} (batch ${s.batchSize})`, `${rows(o.optimized.rowsPerSecond)} (batch ${o.batchSize})`, `×${speed.best.ratio.toFixed(2)}`]);
    }
  }
  if (classifier?.sourceAccuracy !== undefined && classifier.optimizedAccuracy !== undefined) {
    lines.push([`accuracy (${accuracy!.rows} rows)`, pct(classifier.sourceAccuracy), pct(classifier.optimizedAccuracy), points(classifier.deltaPoints ?? 0)]);
  }
  if (classifier !== undefined) lines.push(['top-1 agreement', '', pct(classifier.top1Agreement), '']);
  if (accuracy?.metric !== undefined) lines.push([accuracy.metric.name, pct(accuracy.metric.source), pct(accuracy.metric.optimized), points(accuracy.metric.deltaPoints)]);
  for (const o of accuracy?.outputs ?? []) lines.push([`${o.name}: max abs. difference`, '', o.maxAbsDiff.toExponential(2), '']);
  return (
    <div class="table-scroll">
      <table class="optimize-report">
        <caption>
          v{report.version}: {report.method} of v{report.sourceVersion}, {new Date(report.createdAt).toLocaleString()}
        </caption>
        <thead>
          <tr>
            <th scope="col"></th>
            <th scope="col">v{report.sourceVersion} (float)</th>
            <th scope="col">
              v{report.version} ({report.method})
            </th>
            <th scope="col">change</th>
          </tr>
        </thead>
        <tbody>
          {lines.map(([what, a, b, change]) => (
            <tr key={what}>
              <th scope="row">{what}</th>
              <td>{a}</td>
              <td>{b}</td>
              <td>{change}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {speed !== undefined && <p class="muted">Measured on {speed.measuredOn}, {speed.instances}.</p>}
    </div>
  );
}

/** The reports `slipway optimize` left beside this model's versions, if any: what each smaller version costs and saves. */
export function OptimizeReports({ name }: { name: string }) {
  const [reports, setReports] = useState<OptimizeReport[]>([]);
  useEffect(() => {
    let stopped = false;
    getJson<{ reports: OptimizeReport[] }>(`${modelPath(name)}/optimize-reports`).then(
      (r) => !stopped && setReports(r.reports),
      () => !stopped && setReports([]),
    );
    return () => {
      stopped = true;
    };
  }, [name]);
  if (reports.length === 0) return null;
  return (
    <details class="optimize-reports">
      <summary>Optimized versions ({reports.length})</summary>
      {reports.map((r) => (
        <ReportTable key={r.version} report={r} />
      ))}
    </details>
  );
}
