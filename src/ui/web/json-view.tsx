import { useEffect, useState } from 'preact/hooks';
import { formatBytes } from './format.js';

/** Shown in the page up to this size; larger documents are offered as a download. */
const SHOW_MAX = 512 * 1024;

/** JSON on demand: nothing is serialised until it is opened. */
export function JsonView({ value, summary = 'Raw JSON', name = 'result.json' }: { value: unknown; summary?: string; name?: string }) {
  const [open, setOpen] = useState(false);
  const [download, setDownload] = useState<string | undefined>(undefined);
  const text = open ? JSON.stringify(value, null, 2) ?? 'undefined' : '';
  useEffect(() => {
    if (!open || text.length <= SHOW_MAX) return;
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    setDownload(url);
    return () => URL.revokeObjectURL(url);
  }, [open, text.length > SHOW_MAX]);
  return (
    <details class="json-view" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{summary}</summary>
      {open && (
        <>
          <pre class="code">
            {text.length > SHOW_MAX ? `${text.slice(0, SHOW_MAX)}\n… (${formatBytes(text.length)} in all)` : text}
          </pre>
          {download !== undefined && (
            <a href={download} download={name}>
              Download all of it ({formatBytes(text.length)})
            </a>
          )}
        </>
      )}
    </details>
  );
}
