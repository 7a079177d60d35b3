// The prediction log's writer thread: batches sampled predictions into the store so that neither
// serialisation nor database I/O ever runs on the thread that answers requests.
import { appendFile, mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import pg from 'pg';
import { dataToJsonText } from '../tensor/to-json.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FromPredictionWriter, PredictionLogWorkerData, PredictionRecord, ToPredictionWriter } from './prediction-log-messages.js';

const port = parentPort!;
const options = workerData as PredictionLogWorkerData;
const send = (m: FromPredictionWriter) => port.postMessage(m);

function tensorsJson(tensors: Tensor[]): string {
  return `[${tensors.map((t) => `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}],"data":${dataToJsonText(t.datatype, t.data)}}`).join(',')}]`;
}

interface Store {
  write(records: PredictionRecord[]): Promise<void>;
  close(): Promise<void>;
}

const COLUMNS = 'time, model, version, request_id, latency_ms, inputs, outputs, shadow';
const row = (r: PredictionRecord) => [new Date(r.time).toISOString(), r.model, r.version, r.requestId ?? null, r.latencyMs, tensorsJson(r.inputs), tensorsJson(r.outputs), shadowJson(r.shadow)];

/** A shadow comparison as JSON (null when the request was not mirrored); its outputs as tensors. */
function shadowJson(shadow: PredictionRecord['shadow']): string | null {
  if (shadow === undefined) return null;
  const { outputs, ...rest } = shadow;
  const head = JSON.stringify({ version: rest.version, outcome: rest.outcome, max_abs_diff: rest.maxAbsDiff, latency_ms: rest.latencyMs, ...(rest.detail !== undefined && { detail: rest.detail }) });
  return outputs === undefined ? head : `${head.slice(0, -1)},"outputs":${tensorsJson(outputs)}}`;
}

async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    await mkdir(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(`CREATE TABLE IF NOT EXISTS slipway_predictions (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, request_id TEXT, latency_ms REAL NOT NULL, inputs TEXT NOT NULL, outputs TEXT NOT NULL, shadow TEXT)`);
    // Logs written before shadow traffic existed lack the column.
    const columns = db.prepare('PRAGMA table_info(slipway_predictions)').all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'shadow')) db.exec('ALTER TABLE slipway_predictions ADD COLUMN shadow TEXT');
    const insert = db.prepare(`INSERT INTO slipway_predictions (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    const trim = db.prepare('DELETE FROM slipway_predictions WHERE id <= (SELECT MAX(id) FROM slipway_predictions) - ?');
    const writeAll = db.transaction((records: PredictionRecord[]) => {
      for (const r of records) insert.run(...row(r));
      trim.run(options.maxRows);
    });
    return { write: async (records) => void writeAll(records), close: async () => void db.close() };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`CREATE TABLE IF NOT EXISTS slipway_predictions (id BIGSERIAL PRIMARY KEY, time TIMESTAMPTZ NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, request_id TEXT, latency_ms DOUBLE PRECISION NOT NULL, inputs JSONB NOT NULL, outputs JSONB NOT NULL, shadow JSONB)`);
    await client.query('ALTER TABLE slipway_predictions ADD COLUMN IF NOT EXISTS shadow JSONB');
    return {
      write: async (records) => {
        const values: unknown[] = [];
        const tuples = records.map((r, i) => {
          values.push(...row(r));
          return `(${Array.from({ length: 8 }, (_, k) => `$${i * 8 + k + 1}`).join(',')})`;
        });
        await client.query('BEGIN');
        try {
          await client.query(`INSERT INTO slipway_predictions (${COLUMNS}) VALUES ${tuples.join(',')}`, values);
          await client.query('DELETE FROM slipway_predictions WHERE id <= (SELECT MAX(id) FROM slipway_predictions) - $1', [options.maxRows]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      },
      close: () => client.end(),
    };
  }
  if (url.startsWith('jsonl:')) {
    const path = url.slice('jsonl:'.length);
    await mkdir(dirname(path), { recursive: true });
    let lines = 0;
    return {
      write: async (records) => {
        // Rotate to PATH.1 past maxRows lines, so the log is bounded at about twice that.
        if (lines + records.length > options.maxRows) {
          await rename(path, `${path}.1`).catch(() => undefined);
          lines = 0;
        }
        const text = records
          .map((r) => `{"time":"${new Date(r.time).toISOString()}","model":${JSON.stringify(r.model)},"version":${JSON.stringify(r.version)},"request_id":${JSON.stringify(r.requestId ?? null)},"latency_ms":${r.latencyMs},"inputs":${tensorsJson(r.inputs)},"outputs":${tensorsJson(r.outputs)}${r.shadow === undefined ? '' : `,"shadow":${shadowJson(r.shadow)}`}}\n`)
          .join('');
        await appendFile(path, text);
        lines += records.length;
      },
      close: async () => undefined,
    };
  }
  throw new Error(`prediction log store '${url}': expected sqlite:PATH, postgres://… or jsonl:PATH`);
}

let pending: PredictionRecord[] = [];
let flushing = Promise.resolve();
const store = await openStore(options.store).catch((error: Error) => {
  send({ type: 'failed', count: 0, message: error.message });
  return undefined;
});
send({ type: 'ready' });

function flush(): Promise<void> {
  if (pending.length === 0) return flushing;
  const batch = pending;
  pending = [];
  flushing = flushing.then(async () => {
    if (store === undefined) return send({ type: 'failed', count: batch.length, message: 'store did not open' });
    try {
      await store.write(batch);
      send({ type: 'written', count: batch.length });
    } catch (error) {
      send({ type: 'failed', count: batch.length, message: (error as Error).message });
    }
  });
  return flushing;
}

const timer = setInterval(() => void flush(), options.flushIntervalMs);
port.on('message', (message: ToPredictionWriter) => {
  if (message.type === 'record') {
    pending.push(message.record);
    if (pending.length >= 256) void flush();
    return;
  }
  clearInterval(timer);
  void flush()
    .then(() => store?.close())
    .finally(() => {
      send({ type: 'closed' });
      port.close();
    });
});
