/**
 * One example input, one click away in the UI:
 * - `image`, `text`, `file`: a file in the model folder's `examples/`, fetched from `url`;
 * - `request`: a JSON file there, a whole request body (`target` says for which API);
 * - `tensors`: an entry of the folder's `samples.json`, its graph inputs by name (without the batch
 *   dimension) and whatever else the entry holds (`label`, …) as `expected`.
 */
export interface ModelExample {
  name: string;
  kind: 'image' | 'text' | 'file' | 'request' | 'tensors';
  media_type?: string;
  /** Relative to the server root. */
  url?: string;
  bytes?: number;
  target?: 'predict' | 'infer';
  inputs?: Record<string, unknown>;
  expected?: Record<string, unknown>;
}
