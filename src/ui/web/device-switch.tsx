import { useEffect, useRef, useState } from 'preact/hooks';
import type { Answer, EdgeModel, EdgeStatus, FallbackDetail } from '../../edge/web/slipway.js';
import { deviceAnswers } from '../../edge/web/ui-answers.js';
import { answerLocally, apiUrl } from './api.js';
import { formatMs } from './format.js';

/** Set by the bundle's own page (`slipway edge`): its model always runs on the device, so there is nothing to switch. */
let bundled: { name: string; model: EdgeModel } | undefined;
export function setBundledModel(name: string, model: EdgeModel): void {
  bundled = { name, model };
}

/** True on a browser bundle's own page for this model: the server's panels (rollouts, reports) have no place there. */
export function isBundled(name: string): boolean {
  return bundled?.name === name;
}

type State =
  | { phase: 'off' }
  | { phase: 'loading' }
  | { phase: 'on'; status: EdgeStatus }
  | { phase: 'failed'; message: string };

function describeStatus(status: EdgeStatus): string {
  if (status.mode === 'server') return `The server answers: ${status.reason ?? 'this device cannot run the model'}.`;
  const threads = status.backend === 'wasm' ? `, ${status.threads} thread${status.threads === 1 ? '' : 's'}${status.crossOriginIsolated ? '' : ' (the page is not cross-origin isolated)'}` : '';
  return `This device answers: ${status.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly'}${threads}, loaded in ${formatMs(status.loadMs)}.${status.reason === undefined ? '' : ` ${status.reason}.`}`;
}

function describeAnswer(answer: Answer<unknown>): string {
  return answer.ranOn === 'device'
    ? `Last answer: on this device, ${formatMs(answer.latencyMs)}.`
    : `Last answer: from the server, ${formatMs(answer.latencyMs)}, because ${answer.fallbackReason ?? 'the device could not answer'}.`;
}

/**
 * "Run on this device": the model page's switch that answers the page's predict and infer calls
 * with the model's browser bundle (`/edge/{m}/`, onnxruntime-web), falling back to the server
 * and saying why. On the bundle's own page it only shows where answers come from.
 */
export function DeviceSwitch({ name }: { name: string }) {
  const own = bundled?.name === name ? bundled.model : undefined;
  const [state, setState] = useState<State>(own === undefined ? { phase: 'off' } : { phase: 'loading' });
  const [last, setLast] = useState<Answer<unknown> | undefined>(undefined);
  const model = useRef<EdgeModel | undefined>(own);
  const listening = useRef(false);

  const turnOn = async () => {
    setState({ phase: 'loading' });
    try {
      let edge = model.current;
      if (edge === undefined || !listening.current) {
        edge ??= ((await import(/* @vite-ignore */ apiUrl(`edge/${encodeURIComponent(name)}/slipway.js`))) as { default: EdgeModel }).default;
        const switched = edge;
        // The device can drop out later (latency budget, a crash): show it when it does.
        switched.addEventListener('fallback', (event) => {
          if ((event as CustomEvent<FallbackDetail>).detail.scope === 'device') setState((s) => (s.phase === 'on' ? { phase: 'on', status: switched.status()! } : s));
        });
        model.current = switched;
        listening.current = true;
      }
      await edge.load();
      // Now, not as loaded: the device may have dropped out since (switched off and on again).
      setState({ phase: 'on', status: edge.status()! });
    } catch (error) {
      setState({ phase: 'failed', message: (error as Error).message });
    }
  };

  useEffect(() => {
    if (own !== undefined) void turnOn();
  }, []);

  // The bundle's own page answers from the device from the start (its model waits for its own
  // loading); the switch only once the model has loaded.
  const on = own !== undefined || state.phase === 'on';
  useEffect(() => {
    const edge = model.current;
    if (!on || edge === undefined) return undefined;
    return answerLocally(deviceAnswers(edge, name, setLast));
  }, [on, name]);

  return (
    <div class="device-switch">
      {own === undefined && (
        <label class="check">
          <input
            type="checkbox"
            checked={state.phase === 'on' || state.phase === 'loading'}
            disabled={state.phase === 'loading'}
            onChange={(e) => (e.currentTarget.checked ? void turnOn() : setState({ phase: 'off' }))}
          />{' '}
          Run on this device
        </label>
      )}
      <p class="muted device-status" role="status" aria-live="polite">
        {state.phase === 'loading' && 'Loading the model onto this device…'}
        {state.phase === 'on' && describeStatus(state.status)}
        {state.phase === 'failed' && <span class="error">The on-device bundle could not start: {state.message}</span>}
        {state.phase === 'on' && last !== undefined && ` ${describeAnswer(last)}`}
      </p>
    </div>
  );
}
