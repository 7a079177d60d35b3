import { useState } from 'preact/hooks';
import { ApiError, call, type FlagLabel, type FlagRecord } from './api.js';
import { Link } from './router.js';
import type { Run } from './run.js';

const LABELS: Array<{ value: FlagLabel; text: string }> = [
  { value: 'right', text: 'Right' },
  { value: 'wrong', text: 'Wrong' },
  { value: 'other', text: 'Other' },
];

function expectedOf(run: Run): string {
  const expected = run.expected?.label ?? run.expected?.expected ?? run.expected?.text;
  return expected === undefined ? '' : typeof expected === 'string' ? expected : JSON.stringify(expected);
}

/**
 * "Flag" on a result: right, wrong or other, what it should have been, a comment. The server stores
 * the input (its files once each, by SHA-256), the output, the model version and the time.
 */
export function FlagForm({ run }: { run: Run }) {
  const [label, setLabel] = useState<FlagLabel | undefined>(undefined);
  const [expected, setExpected] = useState(() => expectedOf(run));
  const [comment, setComment] = useState('');
  const [state, setState] = useState<{ status: 'idle' | 'sending' } | { status: 'saved'; id: number } | { status: 'failed'; message: string }>({ status: 'idle' });
  const id = `flag-${run.id}`;

  if (state.status === 'saved') {
    return (
      <p class="saved" role="status">
        Saved as flag #{state.id}. <Link to={`flags?model=${encodeURIComponent(run.model)}`}>See the flags for {run.model}</Link>
      </p>
    );
  }

  const send = async () => {
    if (label === undefined) {
      setState({ status: 'failed', message: 'Choose right, wrong or other first.' });
      return;
    }
    setState({ status: 'sending' });
    const flag = {
      model: run.model,
      model_version: run.modelVersion,
      api: run.api,
      label,
      expected: label === 'right' || expected.trim() === '' ? null : expected.trim(),
      comment,
      latency_ms: Math.round(run.latencyMs * 1000) / 1000,
      input: run.input,
      output: run.output,
    };
    const form = new FormData();
    // As a file part: a flag on a large tensor can be megabytes of JSON.
    form.append('flag', new Blob([JSON.stringify(flag)], { type: 'application/json' }), 'flag.json');
    for (const [part, file] of run.files) form.append(part, file.blob, file.name);
    try {
      const saved = await call<FlagRecord>('api/feedback', { method: 'POST', body: form });
      setState({ status: 'saved', id: saved.body.id });
    } catch (e) {
      setState({ status: 'failed', message: e instanceof ApiError ? e.message : String(e) });
    }
  };

  return (
    <form
      class="flag-form"
      aria-label="Flag this result"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <fieldset class="flag-labels">
        <legend>Flag this result</legend>
        <div class="segmented">
          {LABELS.map((l) => (
            <label key={l.value} class={label === l.value ? `selected flag-${l.value}` : ''}>
              <input type="radio" name={`${id}-label`} value={l.value} checked={label === l.value} onChange={() => setLabel(l.value)} />
              {l.text}
            </label>
          ))}
        </div>
      </fieldset>
      {label !== undefined && (
        <>
          {label !== 'right' && (
            <div class="field">
              <label for={`${id}-expected`}>What should it be? (optional)</label>
              <input id={`${id}-expected`} type="text" value={expected} maxLength={2000} onInput={(e) => setExpected(e.currentTarget.value)} />
            </div>
          )}
          <div class="field">
            <label for={`${id}-comment`}>Comment (optional)</label>
            <textarea id={`${id}-comment`} rows={2} maxLength={10000} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          </div>
        </>
      )}
      {state.status === 'failed' && (
        <p class="error" role="alert">
          The flag was not saved: {state.message}
        </p>
      )}
      <button type="submit" disabled={state.status === 'sending'}>
        {state.status === 'sending' ? 'Sending…' : 'Send flag'}
      </button>
    </form>
  );
}
