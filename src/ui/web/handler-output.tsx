import type { ComponentChildren } from 'preact';
import type { JsonSchema } from './api.js';
import { BoxOverlay, boxItems } from './box-overlay.js';
import { formatPercent, shortJson } from './format.js';
import { humanize } from './schema-fields.js';
import { isSmallMatrix, PixelGrid } from './pixel-grid.js';
import { TopKChart } from './top-k-chart.js';

const HEADLINE_KEYS = ['label', 'class', 'prediction', 'category', 'answer', 'digit'];
/** A headline read with less confidence than this is marked as unsure. */
const LOW_CONFIDENCE = 0.6;
const SCORE_NAME = /confidence|probability|score/i;
const LABEL_LIST_KEYS = ['labels', 'classes', 'class_names', 'names'];

/** A probability (or score) per class: at least two numbers, all in 0..1. */
function isProbabilities(value: unknown, schema: JsonSchema | undefined): value is number[] {
  if (!Array.isArray(value) || value.length < 2 || value.length > 100_000) return false;
  if (!value.every((v) => typeof v === 'number' && v >= 0 && v <= 1)) return false;
  const sum = (value as number[]).reduce((a, b) => a + b, 0);
  const items = schema?.items;
  return Math.abs(sum - 1) < 0.02 || (items !== undefined && items !== false && items.maximum === 1);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export interface HandlerOutputProps {
  value: unknown;
  schema: JsonSchema | undefined;
  /** The pictures the request sent (object URLs), for boxes to be drawn over. */
  images: string[];
}

/**
 * A handler's answer drawn the way people read it, guided by the output schema: the predicted label
 * large, probabilities as a top-k chart, boxes over the picture, text as text, the rest as a table.
 */
export function HandlerOutput({ value, schema, images }: HandlerOutputProps) {
  if (!isRecord(value)) return <Value value={value} />;
  const properties = schema?.properties ?? {};
  const used = new Set<string>();
  const parts: ComponentChildren[] = [];

  const labelLists = LABEL_LIST_KEYS.filter((k) => Array.isArray(value[k]) && (value[k] as unknown[]).every((x) => typeof x === 'string'));
  const headlineKey = HEADLINE_KEYS.find((k) => typeof value[k] === 'string' || typeof value[k] === 'number');
  const scoreKey = Object.keys(value).find((k) => SCORE_NAME.test(k) && typeof value[k] === 'number' && (value[k] as number) >= 0 && (value[k] as number) <= 1);
  if (headlineKey !== undefined) {
    used.add(headlineKey);
    if (scoreKey !== undefined) used.add(scoreKey);
    const unsure = scoreKey !== undefined && (value[scoreKey] as number) < LOW_CONFIDENCE;
    parts.push(
      <p class={`headline${unsure ? ' unsure' : ''}`} key="headline">
        <span class="headline-label">{humanize(headlineKey)}</span>
        <output class="headline-value">{String(value[headlineKey])}</output>
        {scoreKey !== undefined && (
          <span class="headline-score">
            {humanize(scoreKey).toLowerCase()} {formatPercent(value[scoreKey] as number)}
          </span>
        )}
        {unsure && (
          <span class="badge warn" title={`The model gives it less than ${LOW_CONFIDENCE * 100}%: read it as a guess`}>
            low confidence
          </span>
        )}
      </p>,
    );
  }

  for (const [key, v] of Object.entries(value)) {
    if (used.has(key) || !isProbabilities(v, properties[key])) continue;
    used.add(key);
    const labels = labelLists.map((k) => value[k] as string[]).find((l) => l.length === v.length);
    const headline = headlineKey === undefined ? undefined : value[headlineKey];
    const highlight = typeof headline === 'number' ? headline : labels?.indexOf(String(headline));
    parts.push(<TopKChart key={key} values={v} caption={humanize(key)} {...(labels !== undefined && { labels })} {...(highlight !== undefined && highlight >= 0 && { highlight })} />);
  }
  for (const k of labelLists) used.add(k);

  for (const [key, v] of Object.entries(value)) {
    if (used.has(key)) continue;
    const items = boxItems(v);
    if (items === undefined) continue;
    used.add(key);
    const width = typeof value.width === 'number' ? value.width : undefined;
    const height = typeof value.height === 'number' ? value.height : undefined;
    if (width !== undefined) used.add('width');
    if (height !== undefined) used.add('height');
    parts.push(<BoxOverlay key={key} image={images[0]} items={items} caption={humanize(key)} {...(width !== undefined && { width })} {...(height !== undefined && { height })} />);
  }

  for (const [key, v] of Object.entries(value)) {
    if (used.has(key) || !isSmallMatrix(v)) continue;
    used.add(key);
    parts.push(<PixelGrid key={key} values={v} caption={humanize(key)} {...(properties[key]?.description !== undefined && { description: properties[key]!.description! })} />);
  }

  for (const [key, v] of Object.entries(value)) {
    if (used.has(key) || typeof v !== 'string' || (v.length < 80 && !v.includes('\n') && key !== 'text')) continue;
    used.add(key);
    parts.push(
      <figure class="text-output" key={key}>
        <figcaption>{humanize(key)}</figcaption>
        <pre class="text-block">{v === '' ? '(empty)' : v}</pre>
      </figure>,
    );
  }

  const rest = Object.entries(value).filter(([key]) => !used.has(key));
  if (rest.length > 0) {
    parts.push(
      <dl class="fields" key="rest">
        {rest.map(([key, v]) => (
          <div key={key}>
            <dt>{humanize(key)}</dt>
            <dd>
              <Value value={v} />
            </dd>
          </div>
        ))}
      </dl>,
    );
  }
  return <div class="output">{parts}</div>;
}

function Value({ value }: { value: unknown }) {
  if (typeof value === 'string') return <span class="text-value">{value}</span>;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return <span>{String(value)}</span>;
  return <code>{shortJson(value, 300)}</code>;
}
