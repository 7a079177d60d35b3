import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined | null = null;

/**
 * A full garbage collection of this thread's heap, where V8 lets us ask for one. V8 collects when
 * a thread allocates, not when it idles: after an outsized request the thread that held its body
 * and tensors (hundreds of MB of external memory, measured) keeps them until the next traffic, and
 * an idle server never gives them back. `--expose-gc` set at run time takes effect for contexts
 * made afterwards, which is how the `gc` function is reached without a command-line flag.
 */
export function collectGarbage(): boolean {
  if (collect === null) {
    try {
      setFlagsFromString('--expose-gc');
      const gc: unknown = runInNewContext('gc');
      collect = typeof gc === 'function' ? (gc as () => void) : undefined;
    } catch {
      collect = undefined;
    }
  }
  if (collect === undefined) return false;
  collect();
  return true;
}

/**
 * Collects once, `delayMs` after the last of a run of calls: after a burst of outsized requests,
 * one collection when it has passed, not one per request.
 */
export function collectGarbageSoon(delayMs = 1000): void {
  if (pending !== undefined) clearTimeout(pending);
  pending = setTimeout(() => {
    pending = undefined;
    collectGarbage();
  }, delayMs);
  pending.unref();
}
let pending: NodeJS.Timeout | undefined;
