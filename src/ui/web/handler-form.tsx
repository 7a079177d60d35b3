import { useState } from 'preact/hooks';
import { apiUrl, modelPath, send, type ModelDescription, type ModelExample } from './api.js';
import { ExamplePicker } from './example-picker.js';
import { FormFooter } from './form-footer.js';
import { FileField, type FileValue } from './file-field.js';
import { fieldsOf, isFileKind, type FieldSpec } from './schema-fields.js';
import { failedRun, runId, type Run, type RunJob } from './run.js';

type Value = string | boolean | FileValue | undefined;
type Values = Record<string, Value>;

function initialValues(fields: FieldSpec[]): Values {
  const values: Values = {};
  for (const field of fields) {
    if (isFileKind(field.kind)) values[field.name] = undefined;
    else if (field.kind === 'boolean') values[field.name] = field.default === true;
    else if (field.kind === 'choice') values[field.name] = field.default === undefined ? '' : String(field.options?.findIndex((o) => o === field.default) ?? '');
    else if (field.default === undefined) values[field.name] = '';
    else values[field.name] = typeof field.default === 'string' ? field.default : JSON.stringify(field.default, null, field.kind === 'json' ? 2 : 0);
  }
  return values;
}

const isFileValue = (v: Value): v is FileValue => typeof v === 'object' && v !== null && 'blob' in v;

/** The request document (files as `{"$file": name}`), its files, and every problem found on the way, each naming its field. */
export function buildRequest(fields: FieldSpec[], values: Values): { document: Record<string, unknown>; files: Map<string, FileValue>; problems: string[] } {
  const document: Record<string, unknown> = {};
  const files = new Map<string, FileValue>();
  const problems: string[] = [];
  for (const field of fields) {
    const value = values[field.name];
    if (isFileKind(field.kind)) {
      if (isFileValue(value)) {
        document[field.name] = { $file: field.name };
        files.set(field.name, value);
      } else if (field.required) {
        problems.push(field.kind === 'image' ? `${field.label}: choose a picture (upload, camera or drawing).` : `${field.label}: choose a file.`);
      }
      continue;
    }
    if (field.kind === 'boolean') {
      document[field.name] = value === true;
      continue;
    }
    const raw = typeof value === 'string' ? value : '';
    if (raw.trim() === '' && field.kind !== 'text' && field.kind !== 'longtext') {
      if (field.required) problems.push(`${field.label}: required.`);
      continue;
    }
    switch (field.kind) {
      case 'number':
      case 'integer': {
        const n = Number(raw.trim());
        if (!Number.isFinite(n)) problems.push(`${field.label}: '${raw}' is not a number.`);
        else if (field.kind === 'integer' && !Number.isInteger(n)) problems.push(`${field.label}: expected a whole number, got ${raw}.`);
        else if (field.minimum !== undefined && n < field.minimum) problems.push(`${field.label}: at least ${field.minimum}.`);
        else if (field.maximum !== undefined && n > field.maximum) problems.push(`${field.label}: at most ${field.maximum}.`);
        else document[field.name] = n;
        break;
      }
      case 'choice':
        document[field.name] = field.options?.[Number(raw)];
        break;
      case 'json':
        try {
          document[field.name] = JSON.parse(raw);
        } catch (e) {
          problems.push(`${field.label}: not valid JSON (${(e as Error).message}).`);
        }
        break;
      default:
        if (raw === '' && !field.required) break;
        document[field.name] = raw;
    }
  }
  return { document, files, problems };
}

/** A base64 or data-URL string from a JSON example, as a file. */
function fileFromText(text: string, name: string): FileValue | undefined {
  const match = /^data:([^;,]*)(?:;[^,]*)?,(.*)$/s.exec(text);
  try {
    const binary = atob((match?.[2] ?? text).replace(/\s+/g, ''));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return { blob: new Blob([bytes], { type: match?.[1] ?? '' }), name };
  } catch {
    return undefined;
  }
}

export interface HandlerFormProps {
  model: ModelDescription;
  examples: ModelExample[];
  /** Queues the call (calls run one at a time; see run-queue.ts). */
  enqueue: (job: RunJob) => void;
}

/** The form generated from the handler's input schema; it posts to `/api/models/{m}/predict`. */
export function HandlerForm({ model, examples, enqueue }: HandlerFormProps) {
  const handler = model.handler!;
  const fields = fieldsOf(handler.input_schema);
  const [values, setValues] = useState<Values>(() => initialValues(fields));
  const [problems, setProblems] = useState<string[]>([]);
  // Fields whose own check refused the file: their message is the one shown, not "choose a picture" again.
  const [refused, setRefused] = useState<Set<string>>(new Set());
  const [exampleVersion, setExampleVersion] = useState(0);
  const [example, setExample] = useState<ModelExample | undefined>(undefined);
  const set = (name: string, value: Value) => {
    setValues((v) => ({ ...v, [name]: value }));
    setExample(undefined);
  };
  const refuse = (name: string, refusedFile: boolean) => {
    setRefused((r) => {
      const next = new Set(r);
      if (refusedFile) next.add(name);
      else next.delete(name);
      return next;
    });
    if (refusedFile) setProblems([]);
  };
  const ready = model.versions.filter((v) => v.state === 'READY').map((v) => Number(v.version));

  const run = (current: Values, from: ModelExample | undefined) => {
    const { document, files, problems: found } = buildRequest(fields, current);
    const shown = found.filter((p) => !fields.some((f) => refused.has(f.name) && p.startsWith(`${f.label}:`)));
    setProblems(shown);
    if (found.length > 0) return;
    let body: FormData | string;
    const headers: Record<string, string> = {};
    if (files.size > 0) {
      const form = new FormData();
      for (const [name, value] of Object.entries(document)) {
        const file = files.get(name);
        if (file !== undefined) form.append(name, file.blob, file.name);
        else form.append(name, typeof value === 'string' ? value : JSON.stringify(value));
      }
      body = form;
    } else {
      body = JSON.stringify(document);
      headers['content-type'] = 'application/json';
    }
    const images = [...files.entries()]
      .filter(([name, f]) => fields.find((x) => x.name === name)?.kind === 'image' || f.blob.type.startsWith('image/'))
      .map(([, f]) => URL.createObjectURL(f.blob));
    const source = [...files.values()].map((f) => f.name).join(', ') || 'form';
    const base: Omit<Run, 'latencyMs' | 'serverTiming' | 'finishedAt'> = {
      id: runId(),
      model: model.name,
      api: 'predict',
      modelVersion: ready.length > 0 ? String(Math.max(...ready)) : null,
      input: document,
      files,
      images,
      source,
      ...(handler.output_schema !== undefined && { outputSchema: handler.output_schema }),
      ...(from?.expected !== undefined && { expected: from.expected }),
      ...(from !== undefined && { example: from.name }),
    };
    enqueue({
      id: base.id,
      source,
      ...(from !== undefined && { example: from.name }),
      ...(images[0] !== undefined && { thumbnail: images[0] }),
      execute: async (signal, onUploadProgress) => {
        const started = performance.now();
        try {
          const answer = await send<unknown>(`${modelPath(model.name)}/predict`, { method: 'POST', body, headers, signal, onUploadProgress });
          return { ...base, output: answer.body, latencyMs: answer.latencyMs, serverTiming: answer.serverTiming, finishedAt: new Date() };
        } catch (e) {
          return failedRun(base, e, started);
        }
      },
    });
  };

  const useExample = async (chosen: ModelExample) => {
    const next: Values = { ...values };
    try {
      if (chosen.kind === 'request') {
        const response = await fetch(apiUrl(chosen.url!));
        const body = (await response.json()) as Record<string, unknown>;
        for (const field of fields) {
          if (!(field.name in body)) continue;
          const v = body[field.name];
          if (isFileKind(field.kind)) next[field.name] = typeof v === 'string' ? fileFromText(v, `${chosen.name}#${field.name}`) : undefined;
          else if (field.kind === 'boolean') next[field.name] = v === true;
          else if (field.kind === 'choice') next[field.name] = String(field.options?.findIndex((o) => o === v) ?? '');
          else next[field.name] = typeof v === 'string' ? v : JSON.stringify(v);
        }
      } else {
        const response = await fetch(apiUrl(chosen.url!));
        if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
        const blob = await response.blob();
        const target =
          chosen.kind === 'text'
            ? fields.find((f) => f.kind === 'longtext' || f.kind === 'text')
            : fields.find((f) => f.kind === (chosen.kind === 'image' ? 'image' : 'file')) ?? fields.find((f) => isFileKind(f.kind));
        if (target === undefined) return;
        next[target.name] = chosen.kind === 'text' ? await blob.text() : { blob, name: chosen.name };
      }
    } catch (e) {
      setProblems([`Example ${chosen.name} could not be loaded: ${(e as Error).message}`]);
      return;
    }
    setValues(next);
    setExample(chosen);
    setExampleVersion((n) => n + 1);
    run(next, chosen);
  };

  const usable = examples.filter((e) => e.kind !== 'tensors' && !(e.kind === 'request' && e.target === 'infer'));
  const main = fields.filter((f) => f.required || isFileKind(f.kind));
  const options = fields.filter((f) => !main.includes(f));
  return (
    <form
      class="model-form"
      // Our own checks name the field in one list (and screen readers read it); the browser's bubbles do neither.
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        run(values, example);
      }}
      onKeyDown={(e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          run(values, example);
        }
      }}
    >
      {usable.length > 0 && <ExamplePicker examples={usable} onPick={(e) => void useExample(e)} />}
      {main.map((field) => (
        <Field key={field.name} field={field} value={values[field.name]} onChange={(v) => set(field.name, v)} onRefused={(r) => refuse(field.name, r)} maxBytes={handler.limits.max_file_bytes} exampleVersion={exampleVersion} />
      ))}
      {options.length > 0 && (
        <details class="options">
          <summary>Options ({options.length})</summary>
          {options.map((field) => (
            <Field key={field.name} field={field} value={values[field.name]} onChange={(v) => set(field.name, v)} onRefused={(r) => refuse(field.name, r)} maxBytes={handler.limits.max_file_bytes} exampleVersion={exampleVersion} />
          ))}
        </details>
      )}
      <FormFooter problems={problems} route={handler.predict?.path ?? `/api/models/${model.name}/predict`} />
    </form>
  );
}

interface FieldProps {
  field: FieldSpec;
  value: Value;
  onChange: (value: Value) => void;
  onRefused: (refused: boolean) => void;
  maxBytes: number;
  exampleVersion: number;
}

function Field({ field, value, onChange, onRefused, maxBytes, exampleVersion }: FieldProps) {
  const id = `field-${field.name}`;
  if (isFileKind(field.kind)) {
    return <FileField field={field} value={isFileValue(value) ? value : undefined} onChange={onChange} onRefused={onRefused} maxBytes={maxBytes} exampleVersion={exampleVersion} />;
  }
  const hint = field.description !== undefined ? <p class="hint" id={`${id}-hint`}>{field.description}</p> : null;
  const described = field.description !== undefined ? `${id}-hint` : undefined;
  if (field.kind === 'boolean') {
    return (
      <div class="field">
        <label class="check">
          <input type="checkbox" id={id} checked={value === true} aria-describedby={described} onChange={(e) => onChange(e.currentTarget.checked)} /> {field.label}
        </label>
        {hint}
      </div>
    );
  }
  const text = typeof value === 'string' ? value : '';
  const label = (
    <label for={id}>
      {field.label}
      {field.required && <span class="required"> (required)</span>}
    </label>
  );
  let control;
  switch (field.kind) {
    case 'number':
    case 'integer':
      control = (
        <input
          id={id}
          type="number"
          inputMode={field.kind === 'integer' ? 'numeric' : 'decimal'}
          step={field.kind === 'integer' ? 1 : 'any'}
          min={field.minimum}
          max={field.maximum}
          value={text}
          required={field.required}
          aria-describedby={described}
          onInput={(e) => onChange(e.currentTarget.value)}
        />
      );
      break;
    case 'choice':
      control = (
        <select id={id} value={text} aria-describedby={described} onChange={(e) => onChange(e.currentTarget.value)}>
          {!field.required && <option value="">(default)</option>}
          {field.options!.map((option, i) => (
            <option key={i} value={String(i)}>
              {typeof option === 'string' ? option : JSON.stringify(option)}
            </option>
          ))}
        </select>
      );
      break;
    case 'text':
      control = <input id={id} type="text" value={text} required={field.required} aria-describedby={described} onInput={(e) => onChange(e.currentTarget.value)} />;
      break;
    default:
      control = (
        <textarea
          id={id}
          rows={field.kind === 'json' ? 6 : 5}
          class={field.kind === 'json' ? 'code' : ''}
          spellcheck={field.kind !== 'json'}
          value={text}
          required={field.required && field.kind !== 'json'}
          aria-describedby={described}
          placeholder={field.kind === 'json' ? 'JSON' : undefined}
          onInput={(e) => onChange(e.currentTarget.value)}
        />
      );
  }
  return (
    <div class="field">
      {label}
      {hint}
      {control}
    </div>
  );
}
