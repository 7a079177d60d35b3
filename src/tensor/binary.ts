// Raw tensor bytes as the Open Inference Protocol carries them outside JSON: Triton's binary tensor
// data extension over HTTP and `raw_input_contents`/`raw_output_contents` over gRPC. Elements are
// little-endian and packed; BYTES elements are each a 4-byte little-endian length then the bytes.
import { ServingError } from '../errors/serving-error.js';
import { DATATYPE_INFO, type Datatype, type NumericTypedArray, type TensorData } from './datatypes.js';
import { elementCount, formatShape, type Tensor } from './tensor.js';

// Typed arrays follow the host's byte order; every platform onnxruntime-node ships for (x64, arm64)
// is little-endian, so views of the wire bytes are the values. A big-endian host would silently
// read garbage, so refuse to load there instead.
if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
  throw new Error('Slipway needs a little-endian host: binary tensor data is little-endian on the wire');
}

const invalid = (message: string): ServingError => new ServingError('INVALID_INPUT', message);

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/**
 * Decodes the raw bytes of one tensor into its data. Numeric types come back as a view of `bytes`
 * when it is suitably aligned (no copy) and as a copy otherwise; the byte count must be exactly
 * `product(shape) × size`. BYTES elements are decoded as UTF-8 text, which is what the engine
 * carries (onnxruntime-node string tensors); invalid UTF-8 is refused by element index.
 *
 * @example
 * const data = tensorDataFromBinary('FP32', [1, 2], new Uint8Array(new Float32Array([1, 2]).buffer), "input 'x'");
 */
export function tensorDataFromBinary(datatype: Datatype, shape: readonly number[], bytes: Uint8Array, what: string): TensorData {
  const count = elementCount(shape);
  if (datatype === 'BYTES') return decodeBytesElements(bytes, count, shape, what);
  const info = DATATYPE_INFO[datatype];
  const expected = count * info.byteSize;
  if (bytes.byteLength !== expected) {
    throw invalid(
      `${what}: shape ${formatShape(shape)} of ${datatype} needs ${expected} bytes (${count} × ${info.byteSize}) but ${bytes.byteLength} were given`,
    );
  }
  const ctor = info.arrayType!;
  let data: NumericTypedArray;
  if (bytes.byteOffset % info.byteSize === 0) {
    data = new ctor(bytes.buffer, bytes.byteOffset, count);
  } else {
    // Misaligned within the body (an earlier tensor of odd length): typed arrays cannot view it.
    data = new ctor(count);
    new Uint8Array(data.buffer).set(bytes);
  }
  if (datatype === 'BOOL') checkBools(data as Uint8Array, what);
  return data;
}

function checkBools(data: Uint8Array, what: string): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i]! > 1) throw invalid(`${what}: element ${i} is byte ${data[i]}; BOOL elements are one byte each, 0 or 1`);
  }
}

function decodeBytesElements(bytes: Uint8Array, count: number, shape: readonly number[], what: string): string[] {
  // Each element takes at least its 4-byte length: check before allocating count slots.
  if (count * 4 > bytes.byteLength) {
    throw invalid(
      `${what}: shape ${formatShape(shape)} of BYTES has ${count} elements, which need at least ${count * 4} bytes of lengths, but ${bytes.byteLength} bytes were given`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<string>(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.byteLength) {
      throw invalid(`${what}: BYTES data ends inside the length of element ${i} (offset ${offset} of ${bytes.byteLength} bytes)`);
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) {
      throw invalid(
        `${what}: BYTES element ${i} claims ${length} bytes but only ${bytes.byteLength - offset} remain (each element is a 4-byte little-endian length, then the bytes)`,
      );
    }
    try {
      out[i] = utf8.decode(bytes.subarray(offset, offset + length));
    } catch {
      throw invalid(`${what}: BYTES element ${i} is not valid UTF-8; Slipway's engine carries BYTES as text`);
    }
    offset += length;
  }
  if (offset !== bytes.byteLength) {
    throw invalid(`${what}: shape ${formatShape(shape)} has ${count} BYTES elements, which end at byte ${offset}, but ${bytes.byteLength} bytes were given`);
  }
  return out;
}

/**
 * The raw little-endian bytes of a tensor's data: a view of the typed array for numeric types (no
 * copy), the length-prefixed encoding for BYTES.
 */
export function tensorDataToBinary(datatype: Datatype, data: TensorData): Uint8Array {
  if (Array.isArray(data)) return encodeBytesElements(data);
  if (datatype === 'BYTES') throw new ServingError('INTERNAL', 'BYTES tensor holds a typed array');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** BYTES elements as 4-byte little-endian lengths, each followed by the element's UTF-8 bytes. */
export function encodeBytesElements(elements: readonly string[]): Uint8Array {
  const encoded = elements.map((s) => encoder.encode(s));
  let total = 0;
  for (const e of encoded) total += 4 + e.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const e of encoded) {
    view.setUint32(offset, e.byteLength, true);
    out.set(e, offset + 4);
    offset += 4 + e.byteLength;
  }
  return out;
}

/** Decodes one element per entry (gRPC `bytes_contents`) as UTF-8 text, refusing invalid UTF-8 by index. */
export function textFromByteElements(elements: readonly Uint8Array[], what: string): string[] {
  return elements.map((bytes, i) => {
    try {
      return utf8.decode(bytes);
    } catch {
      throw invalid(`${what}: BYTES element ${i} is not valid UTF-8; Slipway's engine carries BYTES as text`);
    }
  });
}

/** Each BYTES element's UTF-8 bytes (gRPC `bytes_contents`). */
export function byteElementsFromText(elements: readonly string[]): Uint8Array[] {
  return elements.map((s) => encoder.encode(s));
}

/**
 * Several tensors as one self-describing byte string, the way Triton's binary tensor extension lays
 * out an answer: a 4-byte little-endian header length, a JSON header (each tensor's name, datatype,
 * shape and byte size), then each tensor's raw bytes in order. Used where answers are stored outside
 * the process (the Redis response cache).
 *
 * @example
 * const bytes = encodeTensorFrame([{ name: 'y', datatype: 'FP32', shape: [1, 2], data: new Float32Array([1, 2]) }]);
 * const [y] = decodeTensorFrame(bytes, 'cached answer');
 */
export function encodeTensorFrame(tensors: readonly Tensor[]): Uint8Array {
  const bodies = tensors.map((t) => tensorDataToBinary(t.datatype, t.data));
  const header = encoder.encode(
    JSON.stringify(tensors.map((t, i) => ({ name: t.name, datatype: t.datatype, shape: t.shape, bytes: bodies[i]!.byteLength }))),
  );
  let total = 4 + header.byteLength;
  for (const body of bodies) total += body.byteLength;
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, header.byteLength, true);
  out.set(header, 4);
  let offset = 4 + header.byteLength;
  for (const body of bodies) {
    out.set(body, offset);
    offset += body.byteLength;
  }
  return out;
}

/**
 * Reads what `encodeTensorFrame` wrote. Every tensor gets a buffer of its own (callers may transfer
 * or detach it); a truncated or foreign byte string is refused with INTERNAL, naming `what`.
 */
export function decodeTensorFrame(bytes: Uint8Array, what: string): Tensor[] {
  const corrupt = (why: string): ServingError => new ServingError('INTERNAL', `${what} is not a tensor frame: ${why}`);
  if (bytes.byteLength < 4) throw corrupt(`${bytes.byteLength} bytes`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + headerLength > bytes.byteLength) throw corrupt(`header of ${headerLength} bytes in ${bytes.byteLength}`);
  let header: Array<{ name: string; datatype: Datatype; shape: number[]; bytes: number }>;
  try {
    header = JSON.parse(utf8.decode(bytes.subarray(4, 4 + headerLength))) as typeof header;
  } catch (error) {
    throw corrupt((error as Error).message);
  }
  let offset = 4 + headerLength;
  const tensors = header.map((entry) => {
    if (DATATYPE_INFO[entry.datatype] === undefined || offset + entry.bytes > bytes.byteLength) throw corrupt(`tensor '${entry.name}' does not fit`);
    // A copy into a fresh buffer: aligned for the typed array, and nobody else's to detach.
    const own = bytes.slice(offset, offset + entry.bytes);
    offset += entry.bytes;
    return { name: entry.name, datatype: entry.datatype, shape: entry.shape, data: tensorDataFromBinary(entry.datatype, entry.shape, own, `${what}: '${entry.name}'`) };
  });
  if (offset !== bytes.byteLength) throw corrupt(`${bytes.byteLength - offset} bytes left over`);
  return tensors;
}
