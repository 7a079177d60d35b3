import type { OipTensor } from './api.js';
import { shortJson } from './format.js';
import { flatten, gridOf, product } from './tensors.js';
import { TopKChart } from './top-k-chart.js';

/** Rows of a [batch, classes] tensor, when every row looks like a probability distribution. */
function distributions(tensor: OipTensor, data: number[]): number[][] | undefined {
  const classes = tensor.shape.at(-1) ?? 0;
  if (tensor.datatype.startsWith('FP') === false || classes < 2 || classes > 100_000 || data.length % classes !== 0) return undefined;
  const rows = data.length / classes;
  if (rows > 8 || product(tensor.shape.slice(0, -1)) !== rows) return undefined;
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const row = data.slice(r * classes, (r + 1) * classes);
    const sum = row.reduce((a, b) => a + b, 0);
    if (row.some((v) => v < 0 || v > 1) || Math.abs(sum - 1) > 0.02) return undefined;
    out.push(row);
  }
  return out;
}

function stats(data: number[]): { min: number; max: number; mean: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, mean: sum / data.length };
}

const short = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(4));

/** One OIP output tensor: a top-k chart for class probabilities, text for BYTES, a grid when small, a summary otherwise. */
function TensorOutput({ tensor }: { tensor: OipTensor }) {
  const flat = flatten(tensor.data);
  const heading = (
    <figcaption>
      {tensor.name}{' '}
      <span class="muted">
        {tensor.datatype} [{tensor.shape.join(', ')}]
      </span>
    </figcaption>
  );
  if (tensor.datatype === 'BYTES') {
    return (
      <figure class="tensor-output">
        {heading}
        <ol class="strings">
          {flat.slice(0, 100).map((s, i) => (
            <li key={i}>{s === '' ? <span class="muted">(empty)</span> : typeof s === 'string' ? s : shortJson(s)}</li>
          ))}
        </ol>
        {flat.length > 100 && <p class="muted">and {flat.length - 100} more</p>}
      </figure>
    );
  }
  const numbers = flat.map((v) => (typeof v === 'boolean' ? Number(v) : Number(v)));
  const rows = distributions(tensor, numbers);
  if (rows !== undefined) {
    return (
      <figure class="tensor-output">
        {heading}
        {rows.map((row, r) => (
          <TopKChart key={r} values={row} caption={rows.length > 1 ? `row ${r}` : 'class probabilities'} highlight={row.indexOf(Math.max(...row))} />
        ))}
      </figure>
    );
  }
  const grid = flat.length <= 256 ? gridOf(tensor.shape) : undefined;
  if (grid !== undefined) {
    return (
      <figure class="tensor-output">
        {heading}
        <div class="grid-scroll">
          <table class="grid readonly">
            <tbody>
              {Array.from({ length: grid.rows }, (_, r) => (
                <tr key={r}>
                  {Array.from({ length: grid.columns }, (_, c) => {
                    const v = flat[r * grid.columns + c];
                    return <td key={c}>{typeof v === 'number' ? short(v) : String(v)}</td>;
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </figure>
    );
  }
  const s = stats(numbers);
  return (
    <figure class="tensor-output">
      {heading}
      <dl class="fields">
        <div>
          <dt>values</dt>
          <dd>{numbers.length.toLocaleString()}</dd>
        </div>
        <div>
          <dt>min / mean / max</dt>
          <dd>
            {short(s.min)} / {short(s.mean)} / {short(s.max)}
          </dd>
        </div>
        <div>
          <dt>first values</dt>
          <dd>
            <code>{numbers.slice(0, 12).map(short).join(', ')}…</code>
          </dd>
        </div>
      </dl>
    </figure>
  );
}

export function TensorOutputs({ outputs }: { outputs: OipTensor[] }) {
  return (
    <div class="output">
      {outputs.map((tensor) => (
        <TensorOutput key={tensor.name} tensor={tensor} />
      ))}
    </div>
  );
}
