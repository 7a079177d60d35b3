import { useEffect, useRef, useState } from 'preact/hooks';

const SIZE = 280;

export interface DrawCanvasProps {
  /** The drawing as a PNG after every stroke; undefined once cleared. */
  onChange: (image: Blob | undefined) => void;
  label: string;
}

/**
 * A square to draw on with a mouse, a finger or a pen (pointer events), light ink on dark by default
 * (MNIST style) or dark on light; the model's handler finds the ink either way.
 */
export function DrawCanvas({ onChange, label }: DrawCanvasProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const drawing = useRef(false);
  const last = useRef<{ x: number; y: number } | undefined>(undefined);
  const [lightInk, setLightInk] = useState(true);
  const [brush, setBrush] = useState(20);
  const [empty, setEmpty] = useState(true);

  const context = () => canvas.current?.getContext('2d') ?? undefined;

  const clear = (light = lightInk) => {
    const ctx = context();
    if (ctx === undefined) return;
    ctx.fillStyle = light ? '#000000' : '#ffffff';
    ctx.fillRect(0, 0, SIZE, SIZE);
    setEmpty(true);
    onChange(undefined);
  };

  useEffect(() => clear(), []);

  const emit = () => canvas.current?.toBlob((blob) => onChange(blob ?? undefined), 'image/png');

  const point = (event: PointerEvent) => {
    const rect = canvas.current!.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) * SIZE) / rect.width, y: ((event.clientY - rect.top) * SIZE) / rect.height };
  };

  const stroke = (to: { x: number; y: number }) => {
    const ctx = context();
    if (ctx === undefined) return;
    const from = last.current ?? to;
    ctx.strokeStyle = lightInk ? '#ffffff' : '#000000';
    ctx.lineWidth = brush;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    last.current = to;
  };

  const invert = () => {
    const ctx = context();
    if (ctx !== undefined) {
      const pixels = ctx.getImageData(0, 0, SIZE, SIZE);
      for (let i = 0; i < pixels.data.length; i += 4) {
        pixels.data[i] = 255 - pixels.data[i]!;
        pixels.data[i + 1] = 255 - pixels.data[i + 1]!;
        pixels.data[i + 2] = 255 - pixels.data[i + 2]!;
      }
      ctx.putImageData(pixels, 0, 0);
    }
    setLightInk(!lightInk);
    if (!empty) emit();
  };

  return (
    <div class="draw">
      <canvas
        ref={canvas}
        width={SIZE}
        height={SIZE}
        class="draw-canvas"
        role="img"
        aria-label={`${label}: drawing area. Draw with a mouse, a finger or a pen; with a keyboard, upload a picture instead.`}
        onPointerDown={(event) => {
          event.preventDefault();
          canvas.current!.setPointerCapture(event.pointerId);
          drawing.current = true;
          last.current = undefined;
          stroke(point(event));
        }}
        onPointerMove={(event) => {
          if (!drawing.current) return;
          // Coalesced events keep fast strokes smooth where the browser batches pointer moves.
          const events = typeof event.getCoalescedEvents === 'function' ? event.getCoalescedEvents() : [];
          for (const e of events.length > 0 ? events : [event]) stroke(point(e));
        }}
        onPointerUp={() => {
          if (!drawing.current) return;
          drawing.current = false;
          setEmpty(false);
          emit();
        }}
        onPointerCancel={() => {
          drawing.current = false;
        }}
      />
      <div class="draw-tools">
        <button type="button" onClick={() => clear()} disabled={empty}>
          Clear
        </button>
        <label>
          <input type="checkbox" checked={!lightInk} onChange={invert} /> Dark ink on light
        </label>
        <label>
          Brush{' '}
          <input type="range" min={4} max={48} value={brush} onInput={(e) => setBrush(Number(e.currentTarget.value))} />
        </label>
      </div>
    </div>
  );
}
