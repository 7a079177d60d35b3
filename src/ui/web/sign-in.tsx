import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, SIGN_IN_NEEDED, type SessionState } from './api.js';

/**
 * The UI's sign-in: shown when a call is refused for want of a key (the server was started with
 * --api-key, --ui-key, a keys file, or listens beyond loopback). The key goes to POST /api/session,
 * which sets an HttpOnly cookie, so the page's script never keeps it and downloads carry it too.
 */
export function SignIn() {
  const [reason, setReason] = useState<string | undefined>(undefined);
  const [session, setSession] = useState<SessionState | undefined>(undefined);
  const [key, setKey] = useState('');
  const [state, setState] = useState<{ status: 'idle' | 'sending' } | { status: 'failed'; message: string }>({ status: 'idle' });

  useEffect(() => {
    const needed = (event: Event) => setReason((event as CustomEvent<string>).detail);
    window.addEventListener(SIGN_IN_NEEDED, needed);
    call<SessionState>('api/session').then(
      (answer) => setSession(answer.body),
      () => undefined,
    );
    return () => window.removeEventListener(SIGN_IN_NEEDED, needed);
  }, []);

  const signIn = async (event: Event) => {
    event.preventDefault();
    setState({ status: 'sending' });
    try {
      await call<SessionState>('api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: key.trim() }) });
      // Everything on the page was loaded without the key: load it again with it.
      window.location.reload();
    } catch (error) {
      setState({ status: 'failed', message: error instanceof ApiError ? error.message : String(error) });
    }
  };

  const signOut = async () => {
    await call('api/session', { method: 'DELETE' }).catch(() => undefined);
    window.location.reload();
  };

  if (reason === undefined) {
    if (session?.signed_in !== true) return null;
    return (
      <button type="button" class="link sign-out" onClick={signOut}>
        Sign out
      </button>
    );
  }
  return (
    <section class="sign-in" role="dialog" aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <p class="muted">{reason}</p>
      <form onSubmit={signIn}>
        <label for="sign-in-key">API key</label>
        <input id="sign-in-key" name="key" type="password" autocomplete="current-password" required value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        <button type="submit" class="primary" disabled={state.status === 'sending' || key.trim() === ''}>
          Sign in
        </button>
      </form>
      {state.status === 'failed' && (
        <p class="error" role="alert">
          {state.message}
        </p>
      )}
    </section>
  );
}
