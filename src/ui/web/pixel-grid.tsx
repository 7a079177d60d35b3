/** A small matrix of numbers (at most 64×64, every row as long): what a model read, drawn as a picture. */
export function isSmallMatrix(value: unknown): value is number[][] {
  if (!Array.isArray(value) || value.length < 2 || value.length > 64) return false;
  const width = Array.isArray(value[0]) ? value[0].length : 0;
  return width >= 2 && width <= 64 && value.every((row) => Array.isArray(row) && row.length === width && row.every((v) => typeof v === 'number' && Number.isFinite(v)));
}

export interface PixelGridProps {
  values: number[][];
  caption: string;
  description?: string;
}

/** The matrix as grey cells, the highest value darkest (ink), with each value in its cell's title. */
export function PixelGrid({ values, caption, description }: PixelGridProps) {
  const flat = values.flat();
  const low = Math.min(...flat);
  const high = Math.max(...flat, low + 1e-9);
  const columns = values[0]!.length;
  return (
    <figure class="pixel-grid">
      <figcaption>
        {caption} <span class="muted">({values.length}×{columns})</span>
      </figcaption>
      <div class="pixels" role="img" aria-label={`${caption}: ${values.length} by ${columns} values`} style={{ gridTemplateColumns: `repeat(${columns}, 1fr)` }}>
        {values.flatMap((row, r) => row.map((v, c) => <span key={`${r}-${c}`} title={`row ${r + 1}, column ${c + 1}: ${v}`} style={{ '--shade': String((v - low) / (high - low)) }} />))}
      </div>
      {description !== undefined && <p class="hint">{description}</p>}
    </figure>
  );
}
