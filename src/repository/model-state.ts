/** Where a model version (or a model's handler) is in its lifecycle. */
export type ModelState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';
