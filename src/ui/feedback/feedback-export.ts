import type { FeedbackStore, FlagFilter, StoredFlag } from './feedback-store.js';

export type ExportFormat = 'csv' | 'jsonl';

export const EXPORT_COLUMNS = ['id', 'created_at', 'model', 'model_version', 'api', 'label', 'expected', 'comment', 'latency_ms', 'input', 'output'] as const;

/** The flag as its export (and API) shows it: snake_case, documents as JSON. */
export function flagRecord(flag: StoredFlag): Record<(typeof EXPORT_COLUMNS)[number], unknown> {
  return {
    id: flag.id,
    created_at: flag.createdAt,
    model: flag.model,
    model_version: flag.modelVersion,
    api: flag.api,
    label: flag.label,
    expected: flag.expected,
    comment: flag.comment,
    latency_ms: flag.latencyMs,
    input: flag.input,
    output: flag.output,
  };
}

// Spreadsheets run cells that start with these as formulas; every text cell gets a leading
// apostrophe then (OWASP's advice for CSV injection): model, model_version and api come from the
// client as much as expected and comment do. Numbers stay numbers. JSONL keeps the text exactly.
const FORMULA_START = /^[=+\-@\t\r]/;

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
  if (typeof value !== 'number' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Every flag matching `filter`, oldest first, as CSV (RFC 4180, a header row, documents as JSON
 * text) or JSON Lines. Reads the store in pages, so an export of any size streams in bounded memory.
 *
 * @example
 * for await (const chunk of exportFlags(store, 'csv', { model: 'digits' })) process.stdout.write(chunk);
 */
export async function* exportFlags(store: FeedbackStore, format: ExportFormat, filter: FlagFilter, pageSize = 200): AsyncGenerator<string> {
  if (format === 'csv') yield `${EXPORT_COLUMNS.join(',')}\r\n`;
  let afterId = 0;
  for (;;) {
    const page = await store.listFlags({ ...filter, afterId, limit: pageSize });
    if (page.length === 0) return;
    let chunk = '';
    for (const flag of page) {
      const record = flagRecord(flag);
      chunk +=
        format === 'csv'
          ? `${EXPORT_COLUMNS.map((column) => csvCell(record[column])).join(',')}\r\n`
          : `${JSON.stringify(record)}\n`;
    }
    yield chunk;
    afterId = page.at(-1)!.id;
  }
}
