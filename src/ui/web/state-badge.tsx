import type { ModelState } from './api.js';

/** A model state as text (never by colour alone). */
export function StateBadge({ state }: { state: ModelState | string }) {
  return <span class={`badge state-${state.toLowerCase()}`}>{state}</span>;
}
