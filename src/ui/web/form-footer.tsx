/** The end of every model form: what stops the request (if anything), the Run button and the route it calls. */
export function FormFooter({ problems, busy, route }: { problems: string[]; busy: boolean; route: string }) {
  return (
    <>
      {problems.length > 0 && (
        <div class="error" role="alert">
          {problems.length === 1 ? (
            problems[0]
          ) : (
            <ul>
              {problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Running…' : 'Run'}
        </button>
        <span class="muted">POST {route}</span>
      </div>
    </>
  );
}
