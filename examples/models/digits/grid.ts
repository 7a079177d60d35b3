// The two grid operations the digits preprocessing is made of, written out (not left to an image
// library) so that train.py's numpy twin computes the very same numbers: the model is trained on
// what this code produces.

/**
 * Resamples a grey `width`×`height` grid to `toWidth`×`toHeight` by area: each output pixel is the
 * mean of the input it covers (fractional pixels weighted by their share). Thin strokes survive a
 * large reduction, which point sampling would skip.
 *
 * @example
 * resampleArea(Float32Array.of(0, 1, 1, 0), 4, 1, 2, 1); // Float32Array [0.5, 0.5]
 */
export function resampleArea(data: Float32Array, width: number, height: number, toWidth: number, toHeight: number): Float32Array {
  const columns = areaWeights(width, toWidth);
  const rows = areaWeights(height, toHeight);
  const across = new Float32Array(height * toWidth);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < toWidth; x++) {
      let sum = 0;
      for (const [from, weight] of columns[x]!) sum += data[y * width + from]! * weight;
      across[y * toWidth + x] = sum;
    }
  }
  const out = new Float32Array(toWidth * toHeight);
  for (let y = 0; y < toHeight; y++) {
    for (const [from, weight] of rows[y]!) {
      for (let x = 0; x < toWidth; x++) out[y * toWidth + x]! += across[from * toWidth + x]! * weight;
    }
  }
  return out;
}

/** For each output index, the input indices it covers and their weights (summing to 1). */
function areaWeights(size: number, toSize: number): Array<Array<[number, number]>> {
  const step = size / toSize;
  return Array.from({ length: toSize }, (_, i) => {
    const start = i * step;
    const end = (i + 1) * step;
    const weights: Array<[number, number]> = [];
    for (let j = Math.floor(start); j < Math.min(size, Math.ceil(end)); j++) {
      const overlap = Math.min(end, j + 1) - Math.max(start, j);
      if (overlap > 0) weights.push([j, overlap / step]);
    }
    return weights;
  });
}

/**
 * Exact Euclidean distance from every cell to the nearest cell where `inside(cell)` is false
 * (0 for those cells themselves), by Felzenszwalb and Huttenlocher's two-pass lower envelope.
 * Equal to scipy.ndimage.distance_transform_edt.
 *
 * @example
 * distanceToOutside(Uint8Array.of(0, 1, 1, 1, 0), 5, 1); // Float32Array [0, 1, 2, 1, 0]
 */
export function distanceToOutside(inside: Uint8Array, width: number, height: number): Float32Array {
  const far = (width + height) ** 2;
  const squared = new Float64Array(width * height);
  for (let i = 0; i < squared.length; i++) squared[i] = inside[i] ? far : 0;
  const line = new Float64Array(Math.max(width, height));
  const result = new Float64Array(Math.max(width, height));
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) line[y] = squared[y * width + x]!;
    lowerEnvelope(line, height, result);
    for (let y = 0; y < height; y++) squared[y * width + x] = result[y]!;
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) line[x] = squared[y * width + x]!;
    lowerEnvelope(line, width, result);
    for (let x = 0; x < width; x++) squared[y * width + x] = result[x]!;
  }
  return Float32Array.from(squared, Math.sqrt);
}

/** One dimension of the squared distance transform: out[q] = min over p of (q - p)² + f[p]. */
function lowerEnvelope(f: Float64Array, n: number, out: Float64Array): void {
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    // z[0] is -Infinity, so this stops at k = 0 at the latest.
    let s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!);
    while (s <= z[k]!) {
      k--;
      s = (f[q]! + q * q - (f[v[k]!]! + v[k]! * v[k]!)) / (2 * q - 2 * v[k]!);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1]! < q) k++;
    const p = v[k]!;
    out[q] = (q - p) * (q - p) + f[p]!;
  }
}
