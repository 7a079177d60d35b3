/** The end of every model form: what stops the request (if anything), the Run button and the route it calls. */
export function FormFooter({ problems, route }: { problems: string[]; route: string }) {
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
        {/* Never disabled: a run asked for while another runs waits its turn (run-queue.ts). */}
        <button type="submit" class="primary">
          Run
        </button>
        <span class="muted">POST {route}</span>
      </div>
    </>
  );
}
