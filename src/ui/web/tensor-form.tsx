import { useState } from 'preact/hooks';
import { oipPath, send, type InferResponse, type ModelExample, type ModelMetadata, type TensorMetadata } from './api.js';
import { ExamplePicker } from './example-picker.js';
import { FormFooter } from './form-footer.js';
import { failedRun, runId, type RunJob } from './run.js';
import { concreteShape, fillValue, flatten, gridOf, nest, product, readValue, shapeOf } from './tensors.js';

/** Tensors up to this many values get a grid of cells (when at most two dimensions are wider than 1). */
const GRID_MAX = 1024;
/** Up to this many values the JSON is written out to edit; larger tensors are filled (zeros/random) unless JSON is pasted. */
const JSON_MAX = 20_000;

interface InputState {
  shape: number[];
  mode: 'grid' | 'json' | 'fill';
  cells: string[];
  json: string;
  fill: 'zeros' | 'random';
}

function zeros(meta: TensorMetadata, shape: number[]): Pick<InputState, 'cells' | 'json'> {
  const n = product(shape);
  const zero = fillValue(meta.datatype, 'zeros');
  return {
    cells: n <= GRID_MAX ? Array.from({ length: n }, () => String(zero)) : [],
    json: n <= JSON_MAX ? JSON.stringify(nest(Array.from({ length: n }, () => zero), shape)) : '',
  };
}

function initialState(meta: TensorMetadata, shape = concreteShape(meta.shape)): InputState {
  const n = product(shape);
  const mode = meta.datatype !== 'BYTES' && n <= GRID_MAX && gridOf(shape) !== undefined ? 'grid' : n <= JSON_MAX ? 'json' : 'fill';
  return { shape, mode, fill: 'zeros', ...zeros(meta, shape) };
}

/** The OIP request for the form's state, or the problems that stop it (each naming its tensor). */
function buildInfer(inputs: TensorMetadata[], states: Record<string, InputState>): { body?: unknown; problems: string[] } {
  const problems: string[] = [];
  const tensors = inputs.map((meta) => {
    const state = states[meta.name]!;
    const n = product(state.shape);
    let raw: unknown[];
    if (state.mode === 'fill') raw = Array.from({ length: n }, () => fillValue(meta.datatype, state.fill));
    else if (state.mode === 'grid') raw = state.cells;
    else {
      try {
        raw = flatten(JSON.parse(state.json));
      } catch (e) {
        problems.push(`${meta.name}: not valid JSON (${(e as Error).message}).`);
        return undefined;
      }
      if (raw.length !== n) {
        problems.push(`${meta.name}: ${raw.length} values, but shape [${state.shape.join(', ')}] holds ${n}.`);
        return undefined;
      }
    }
    const data: unknown[] = [];
    let bad = 0;
    raw.forEach((value, i) => {
      const read = readValue(meta.datatype, value);
      if ('problem' in read) {
        if (bad++ < 3) problems.push(`${meta.name}[${i}]: ${read.problem}.`);
      } else data.push(read.value);
    });
    if (bad > 3) problems.push(`${meta.name}: ${bad - 3} more values are not ${meta.datatype}.`);
    return { name: meta.name, datatype: meta.datatype, shape: state.shape, data };
  });
  return problems.length > 0 ? { problems } : { body: { inputs: tensors }, problems };
}

export interface TensorFormProps {
  metadata: ModelMetadata;
  examples: ModelExample[];
  /** Queues the call (calls run one at a time; see run-queue.ts). */
  enqueue: (job: RunJob) => void;
}

/** A form for the graph's raw tensors, generated from OIP metadata; it posts to `/v2/models/{m}/infer`. */
export function TensorForm({ metadata, examples, enqueue }: TensorFormProps) {
  const [states, setStates] = useState<Record<string, InputState>>(() => Object.fromEntries(metadata.inputs.map((m) => [m.name, initialState(m)])));
  const [version, setVersion] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const [example, setExample] = useState<ModelExample | undefined>(undefined);
  const update = (name: string, change: Partial<InputState>) => {
    setStates((s) => ({ ...s, [name]: { ...s[name]!, ...change } }));
    setExample(undefined);
  };

  const run = (current: Record<string, InputState>, from: ModelExample | undefined) => {
    const { body, problems: found } = buildInfer(metadata.inputs, current);
    setProblems(found);
    if (body === undefined) return;
    const base = {
      id: runId(),
      model: metadata.name,
      api: 'infer' as const,
      input: body,
      files: new Map(),
      images: [],
      source: 'tensors',
      modelVersion: version || null,
      ...(from?.expected !== undefined && { expected: from.expected }),
      ...(from !== undefined && { example: from.name }),
    };
    const path = `${oipPath(metadata.name, version || undefined)}/infer`;
    enqueue({
      id: base.id,
      source: base.source,
      ...(from !== undefined && { example: from.name }),
      execute: async (signal, onUploadProgress) => {
        const started = performance.now();
        try {
          const answer = await send<InferResponse>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal, onUploadProgress });
          return { ...base, modelVersion: answer.body.model_version ?? base.modelVersion, output: answer.body, latencyMs: answer.latencyMs, serverTiming: answer.serverTiming, finishedAt: new Date() };
        } catch (e) {
          return failedRun(base, e, started);
        }
      },
    });
  };

  const useExample = (chosen: ModelExample) => {
    const next = { ...states };
    for (const meta of metadata.inputs) {
      const value = chosen.inputs?.[meta.name];
      if (value === undefined) continue;
      let shape = shapeOf(value);
      // samples.json holds one item: without the batch dimension.
      if (shape.length === meta.shape.length - 1) shape = [1, ...shape];
      const flat = flatten(value);
      const state = initialState(meta, shape);
      next[meta.name] = { ...state, cells: state.mode === 'grid' ? flat.map(String) : [], json: JSON.stringify(nest(flat, shape)), mode: state.mode === 'fill' ? 'json' : state.mode };
    }
    setStates(next);
    setExample(chosen);
    run(next, chosen);
  };

  const usable = examples.filter((e) => e.kind === 'tensors');
  return (
    <form
      class="model-form"
      // Our own checks name the field in one list (and screen readers read it); the browser's bubbles do neither.
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        run(states, example);
      }}
    >
      {usable.length > 0 && <ExamplePicker examples={usable} onPick={useExample} />}
      {metadata.versions.length > 1 && (
        <div class="field">
          <label for="oip-version">Version</label>
          <select id="oip-version" value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
            <option value="">as traffic is routed</option>
            {metadata.versions.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </div>
      )}
      {metadata.inputs.map((meta) => (
        <TensorInput key={meta.name} meta={meta} state={states[meta.name]!} onChange={(change) => update(meta.name, change)} />
      ))}
      <FormFooter problems={problems} route={`/v2/models/${metadata.name}/infer`} />
    </form>
  );
}

interface TensorInputProps {
  meta: TensorMetadata;
  state: InputState;
  onChange: (change: Partial<InputState>) => void;
}

function TensorInput({ meta, state, onChange }: TensorInputProps) {
  const id = `tensor-${meta.name}`;
  const n = product(state.shape);
  const grid = meta.datatype !== 'BYTES' && n <= GRID_MAX ? gridOf(state.shape) : undefined;
  const setShape = (axis: number, size: number) => {
    if (!Number.isInteger(size) || size < 1 || size > 1_000_000) return;
    const shape = state.shape.map((d, i) => (i === axis ? size : d));
    const fresh = initialState(meta, shape);
    onChange({ shape, ...zeros(meta, shape), mode: state.mode === 'grid' && fresh.mode !== 'grid' ? fresh.mode : state.mode === 'json' && product(shape) > JSON_MAX ? 'fill' : state.mode });
  };
  const numeric = state.cells.map(Number).filter(Number.isFinite);
  const low = Math.min(0, ...numeric);
  const high = Math.max(...numeric, low + 1e-9);
  return (
    <fieldset class="field tensor">
      <legend>
        {meta.name} <span class="muted">{meta.datatype} [{meta.shape.join(', ')}]</span>
      </legend>
      <div class="shape row" role="group" aria-label={`${meta.name} shape`}>
        <span>Shape</span>
        {state.shape.map((d, axis) => {
          // A dimension the model leaves open (-1) can be set; a fixed one is shown as it is.
          const name = axis === 0 && meta.shape[0]! < 0 ? 'batch' : `dim ${axis}`;
          return (
            <label key={axis} class="dim-box">
              <span class="dim-name">{name}</span>
              {meta.shape[axis]! < 0 ? (
                <input type="number" min={1} step={1} value={d} class="dim" aria-label={`${meta.name} ${name}`} onChange={(e) => setShape(axis, Number(e.currentTarget.value))} />
              ) : (
                <span class="dim fixed" title="fixed by the model">
                  {d}
                </span>
              )}
            </label>
          );
        })}
        <span class="muted">{n.toLocaleString()} values</span>
      </div>
      <div class="segmented" role="radiogroup" aria-label={`${meta.name}: how to enter values`}>
        {grid !== undefined && (
          <label class={state.mode === 'grid' ? 'selected' : ''}>
            <input type="radio" name={`${id}-mode`} checked={state.mode === 'grid'} onChange={() => onChange({ mode: 'grid', cells: state.cells.length === n ? state.cells : zeros(meta, state.shape).cells })} />
            Grid
          </label>
        )}
        <label class={state.mode === 'json' ? 'selected' : ''}>
          <input
            type="radio"
            name={`${id}-mode`}
            checked={state.mode === 'json'}
            onChange={() => onChange({ mode: 'json', json: state.mode === 'grid' ? JSON.stringify(nest(state.cells.map((c) => (meta.datatype === 'BOOL' ? c === 'true' : Number(c))), state.shape)) : state.json })}
          />
          JSON
        </label>
        <label class={state.mode === 'fill' ? 'selected' : ''}>
          <input type="radio" name={`${id}-mode`} checked={state.mode === 'fill'} onChange={() => onChange({ mode: 'fill' })} />
          Fill
        </label>
      </div>
      {state.mode === 'grid' && grid !== undefined && (
        <div class="grid-scroll" tabIndex={0} role="region" aria-label={`${meta.name}: ${grid.rows} × ${grid.columns} cells${grid.columns > 8 || grid.rows > 12 ? ', scrolls' : ''}`}>
          <p class="grid-caption muted">
            {grid.rows} × {grid.columns}
            {(grid.columns > 8 || grid.rows > 12) && ' · scroll to see every cell'}
          </p>
          <table class="grid" aria-label={`${meta.name} values`}>
            <tbody>
              {Array.from({ length: grid.rows }, (_, r) => (
                <tr key={r}>
                  {Array.from({ length: grid.columns }, (_, c) => {
                    const i = r * grid.columns + c;
                    const cell = state.cells[i] ?? '';
                    const shade = meta.datatype === 'BOOL' ? 0 : Math.max(0, Math.min(1, (Number(cell) - low) / (high - low)));
                    return (
                      <td key={c} style={{ '--shade': String(Number.isFinite(shade) ? shade : 0) }} class={shade > 0.55 ? 'dark' : ''}>
                        {meta.datatype === 'BOOL' ? (
                          <input
                            type="checkbox"
                            aria-label={`${meta.name} row ${r + 1} column ${c + 1}`}
                            checked={cell === 'true'}
                            onChange={(e) => onChange({ cells: state.cells.map((v, j) => (j === i ? String(e.currentTarget.checked) : v)) })}
                          />
                        ) : (
                          <input
                            type="text"
                            inputMode="decimal"
                            aria-label={`${meta.name} row ${r + 1} column ${c + 1}`}
                            value={cell}
                            onInput={(e) => {
                              const value = e.currentTarget.value;
                              onChange({ cells: state.cells.map((v, j) => (j === i ? value : v)) });
                            }}
                          />
                        )}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {state.mode === 'json' && (
        <>
          <label for={`${id}-json`} class="visually-hidden">
            {meta.name} as JSON
          </label>
          <textarea
            id={`${id}-json`}
            class="code"
            rows={6}
            spellcheck={false}
            value={state.json}
            placeholder={`${n} values, nested or flat JSON`}
            onInput={(e) => onChange({ json: e.currentTarget.value })}
          />
        </>
      )}
      {state.mode === 'fill' && (
        <div class="row">
          <label>
            <input type="radio" name={`${id}-fill`} checked={state.fill === 'zeros'} onChange={() => onChange({ fill: 'zeros' })} /> Zeros
          </label>
          <label>
            <input type="radio" name={`${id}-fill`} checked={state.fill === 'random'} onChange={() => onChange({ fill: 'random' })} /> Random
          </label>
          <span class="muted">{n.toLocaleString()} values, made when you run</span>
        </div>
      )}
    </fieldset>
  );
}
