import { useState } from 'preact/hooks';
import { formatPercent } from './format.js';

export interface TopKChartProps {
  values: readonly number[];
  /** Names of the classes, index by index; the index itself when absent. */
  labels?: readonly string[];
  /** The class the answer names, marked in the chart. */
  highlight?: number;
  k?: number;
  caption: string;
}

/** The k most likely classes as a bar chart, with the probability written beside each bar. */
export function TopKChart({ values, labels, highlight, k = 5, caption }: TopKChartProps) {
  const [all, setAll] = useState(false);
  const order = values.map((value, index) => ({ value, index })).sort((a, b) => b.value - a.value);
  const shown = all ? order : order.slice(0, k);
  const max = Math.max(order[0]?.value ?? 1, 1e-12);
  return (
    <figure class="topk">
      <figcaption>
        {caption} <span class="muted">(top {shown.length} of {values.length})</span>
      </figcaption>
      <ol>
        {shown.map(({ value, index }) => (
          <li key={index} class={index === highlight ? 'top' : ''}>
            <span class="topk-label">{labels?.[index] ?? String(index)}</span>
            <span class="topk-bar" aria-hidden="true">
              <span style={{ width: `${Math.max(0.5, (value / max) * 100)}%` }} />
            </span>
            <span class="topk-value">{formatPercent(value)}</span>
          </li>
        ))}
      </ol>
      {values.length > k && (
        <button type="button" class="link" onClick={() => setAll(!all)}>
          {all ? `Show top ${k}` : `Show all ${values.length}`}
        </button>
      )}
    </figure>
  );
}
