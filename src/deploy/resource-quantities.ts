import { ServingError } from '../errors/serving-error.js';

/** Cores from a Kubernetes CPU quantity (`2`, `0.5`, `"500m"`). */
export function cpuCores(quantity: number | string): number {
  if (typeof quantity === 'number') return quantity;
  const millis = /^(\d+)m$/.exec(quantity);
  const cores = millis !== null ? Number(millis[1]) / 1000 : Number(quantity);
  if (!Number.isFinite(cores) || cores <= 0) throw new ServingError('CONFIG_INVALID', `'${quantity}' is not a CPU quantity`);
  return cores;
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Bytes from a Kubernetes memory quantity (`512Mi`, `2Gi`, `1G`, `1048576`). */
export function memoryBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (match === null) throw new ServingError('CONFIG_INVALID', `'${quantity}' is not a memory quantity`);
  return Math.round(Number(match[1]) * MEMORY_UNITS[match[2] ?? '']!);
}
