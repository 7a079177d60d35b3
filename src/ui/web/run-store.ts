// Results kept in the browser, per model (IndexedDB: runs hold the pictures they sent as Blobs,
// which localStorage could not keep), so they survive a visit to /flags and a reload.
import type { Run } from './run.js';

const DB = 'slipway-ui';
const STORE = 'runs';

/** A run as stored: everything but its object URLs, which belong to one page load. */
export type StoredRun = Omit<Run, 'images'> & { imageParts: string[] };

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = work(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}

/** The model's kept runs, newest first, with fresh object URLs for their pictures; [] if the browser keeps nothing. */
export async function loadRuns(model: string): Promise<Run[]> {
  try {
    const stored = ((await transact('readonly', (s) => s.get(model))) as StoredRun[] | undefined) ?? [];
    return stored.map(({ imageParts, ...run }) => ({
      ...run,
      images: imageParts.flatMap((part) => {
        const file = run.files.get(part);
        return file === undefined ? [] : [URL.createObjectURL(file.blob)];
      }),
    }));
  } catch {
    return [];
  }
}

/** Keeps the model's runs (newest first). A browser that refuses (private mode, quota) just keeps nothing. */
export async function saveRuns(model: string, runs: readonly Run[]): Promise<void> {
  const stored: StoredRun[] = runs.map(({ images: _images, ...run }) => ({
    ...run,
    // The parts whose pictures the card shows, so their URLs can be made again on load.
    imageParts: [...run.files.entries()].filter(([, f]) => f.blob.type.startsWith('image/')).map(([part]) => part),
  }));
  try {
    await transact('readwrite', (s) => s.put(stored, model));
  } catch {
    // Nothing to do: the results stay on the page until it is left.
  }
}
