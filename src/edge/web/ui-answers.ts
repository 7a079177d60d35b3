// The prototype UI's predict and infer calls answered by an on-device model: the "run on this
// device" switch of the UI's model page and the bundle's own page both route them here. The model
// falls back to the server by itself, so the UI gets an answer of the same shape either way.
import { categoryOf, type ErrorCode } from '../../errors/codes.js';
import { httpStatusOf } from '../../errors/to-http.js';
import { ApiError, SIGN_IN_NEEDED, type LocalAnswer, type Timed } from '../../ui/web/api.js';
import type { Answer, EdgeModel, InferBody, PredictInput } from './slipway.js';

/** A multipart form (what the UI's handler form sends) as the on-device model takes it. */
function formParts(form: FormData): PredictInput {
  const fields: Array<{ name: string; value: string }> = [];
  const files: Array<{ name: string; file: Blob; filename?: string }> = [];
  form.forEach((value, name) => {
    if (typeof value === 'string') fields.push({ name, value });
    else files.push({ name, file: value, ...(value.name !== '' && { filename: value.name }) });
  });
  return { kind: 'form', fields, files };
}

function statusOf(error: { code?: string; status?: number }): number {
  if (error.status !== undefined) return error.status;
  const code = error.code as ErrorCode | undefined;
  try {
    return code === undefined ? 500 : httpStatusOf(categoryOf(code));
  } catch {
    return 500;
  }
}

async function timed(run: () => Promise<Answer<unknown>>, onAnswer: (answer: Answer<unknown>) => void): Promise<Timed<unknown>> {
  let answer: Answer<unknown>;
  try {
    answer = await run();
  } catch (error) {
    const failure = error as { message: string; code?: string; status?: number };
    // A fallback the server refused for want of a key: on the UI's page the sign-in form asks for
    // one (its cookie then opens the fallback too, same origin); the bundle's page shows the message.
    if (failure.status === 401) window.dispatchEvent(new CustomEvent<string>(SIGN_IN_NEEDED, { detail: failure.message }));
    throw new ApiError(failure.message, statusOf(failure), failure.code);
  }
  onAnswer(answer);
  return { body: answer.output, status: 200, latencyMs: answer.latencyMs, serverTiming: [] };
}

/**
 * A LocalAnswer (see ui/web/api.ts) for `model`'s `POST /api/models/{m}/predict` and
 * `POST /v2/models/{m}/infer`, answered by `edge`; `onAnswer` hears where each answer came from.
 */
export function deviceAnswers(edge: EdgeModel, model: string, onAnswer: (answer: Answer<unknown>) => void): LocalAnswer {
  const predictPath = `api/models/${encodeURIComponent(model)}/predict`;
  const inferPath = `v2/models/${encodeURIComponent(model)}/infer`;
  return (path, init) => {
    if ((init.method ?? 'GET').toUpperCase() !== 'POST') return undefined;
    if (path === predictPath) {
      const body = init.body;
      return timed(() => {
        if (body instanceof FormData) return edge.predictInput(formParts(body));
        let values: unknown;
        try {
          values = typeof body === 'string' && body !== '' ? JSON.parse(body) : {};
        } catch (error) {
          return Promise.reject({ message: `request body is not valid JSON: ${(error as Error).message}`, code: 'MALFORMED_REQUEST' });
        }
        return edge.predictInput({ kind: 'values', values: values as Record<string, unknown> });
      }, onAnswer);
    }
    if (path === inferPath) return timed(() => edge.infer(JSON.parse(String(init.body)) as InferBody), onAnswer);
    return undefined;
  };
}
