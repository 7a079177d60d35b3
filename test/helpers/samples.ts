import type { Datatype, TensorData } from '../../src/tensor/datatypes.js';

/** Two rows of three of each datatype, at the edges of their ranges. */
export const SAMPLES: Record<Datatype, TensorData> = {
  BOOL: Uint8Array.from([1, 0, 1, 1, 0, 0]),
  UINT8: Uint8Array.from([0, 1, 2, 127, 128, 255]),
  UINT16: Uint16Array.from([0, 1, 2, 32767, 32768, 65535]),
  UINT32: Uint32Array.from([0, 1, 2, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1]),
  UINT64: BigUint64Array.from([0n, 1n, 2n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]),
  INT8: Int8Array.from([-128, -1, 0, 1, 2, 127]),
  INT16: Int16Array.from([-32768, -1, 0, 1, 2, 32767]),
  INT32: Int32Array.from([-(2 ** 31), -1, 0, 1, 2, 2 ** 31 - 1]),
  INT64: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n]),
  FP16: Uint16Array.from([0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x7c00]),
  FP32: Float32Array.from([0, 1, -2, 0.5, 3.25, -1e30]),
  FP64: Float64Array.from([0, 1, -2, 0.1, Math.PI, -1e300]),
  BYTES: ['', 'a', 'hello', 'ünïcødé', 'with space', 'tab\there'],
};

