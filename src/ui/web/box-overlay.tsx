import { useState } from 'preact/hooks';
import { formatPercent } from './format.js';

export interface BoxItem {
  points: Array<[number, number]>;
  text?: string;
  confidence?: number;
}

const BOX_KEYS = ['box', 'bbox', 'polygon', 'points', 'quad'];

function isPoint(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'number' && typeof value[1] === 'number';
}

/** A box as a polygon: a list of [x, y] points, or [x1, y1, x2, y2] corners. */
function pointsOf(value: unknown): Array<[number, number]> | undefined {
  if (Array.isArray(value) && value.length >= 3 && value.every(isPoint)) return value;
  if (Array.isArray(value) && value.length === 4 && value.every((v) => typeof v === 'number')) {
    const [x1, y1, x2, y2] = value as number[];
    return [
      [x1!, y1!],
      [x2!, y1!],
      [x2!, y2!],
      [x1!, y2!],
    ];
  }
  return undefined;
}

/** The items of a detection-like list (objects with a box and maybe text and a confidence), or undefined. */
export function boxItems(value: unknown): BoxItem[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const items: BoxItem[] = [];
  for (const entry of value) {
    if (typeof entry !== 'object' || entry === null) return undefined;
    const record = entry as Record<string, unknown>;
    const key = BOX_KEYS.find((k) => pointsOf(record[k]) !== undefined);
    if (key === undefined) return undefined;
    const item: BoxItem = { points: pointsOf(record[key])! };
    const text = record.text ?? record.label ?? record.class ?? record.name;
    if (typeof text === 'string' || typeof text === 'number') item.text = String(text);
    const confidence = record.confidence ?? record.score ?? record.probability;
    if (typeof confidence === 'number') item.confidence = confidence;
    items.push(item);
  }
  return items;
}

export interface BoxOverlayProps {
  image: string | undefined;
  /** The coordinate space of the boxes (the image's pixels when absent). */
  width?: number;
  height?: number;
  items: BoxItem[];
  caption: string;
}

/** Boxes drawn over the picture that was sent, with a list of what each box holds; pointing at a row marks its box. */
export function BoxOverlay({ image, width, height, items, caption }: BoxOverlayProps) {
  const [natural, setNatural] = useState<{ w: number; h: number } | undefined>(undefined);
  const [active, setActive] = useState<number | undefined>(undefined);
  const w = width ?? natural?.w ?? Math.max(1, ...items.flatMap((i) => i.points.map((p) => p[0])));
  const h = height ?? natural?.h ?? Math.max(1, ...items.flatMap((i) => i.points.map((p) => p[1])));
  const fontSize = Math.max(w, h) / 45;
  return (
    <figure class="boxes">
      <div class="overlay">
        {image !== undefined && <img src={image} alt={caption} onLoad={(e) => setNatural({ w: e.currentTarget.naturalWidth, h: e.currentTarget.naturalHeight })} />}
        <svg viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" class={image === undefined ? 'no-image' : ''} aria-hidden="true">
          {items.map((item, i) => (
            <g key={i} class={i === active ? 'active' : ''}>
              <polygon points={item.points.map((p) => p.join(',')).join(' ')} vector-effect="non-scaling-stroke" />
              <text x={item.points[0]![0]} y={item.points[0]![1] - fontSize * 0.25} font-size={fontSize}>
                {i + 1}
              </text>
            </g>
          ))}
        </svg>
      </div>
      <figcaption>
        {caption} <span class="muted">({items.length} box{items.length === 1 ? '' : 'es'})</span>
      </figcaption>
      {items.some((i) => i.text !== undefined || i.confidence !== undefined) && (
        <ol class="box-list">
          {items.map((item, i) => (
            <li
              key={i}
              tabIndex={0}
              class={i === active ? 'active' : ''}
              onMouseEnter={() => setActive(i)}
              onMouseLeave={() => setActive(undefined)}
              onFocus={() => setActive(i)}
              onBlur={() => setActive(undefined)}
            >
              <span class="box-text">{item.text ?? '—'}</span>
              {item.confidence !== undefined && <span class="muted">{formatPercent(item.confidence)}</span>}
            </li>
          ))}
        </ol>
      )}
    </figure>
  );
}
