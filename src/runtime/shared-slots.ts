// Request/response slots in one SharedArrayBuffer, shared by the main thread and one instance
// worker: a batch's tensors are copied into a slot and the other side is woken with Atomics.notify,
// instead of a structured-clone postMessage per batch. Both sides import this file, so the layout
// lives in one place.
import { DATATYPE_INFO, isDatatype, type NumericTypedArray } from '../tensor/datatypes.js';
import type { Tensor } from '../tensor/tensor.js';

/** Slot states, in the control block (Int32, one per slot). */
export const SLOT_FREE = 0;
/** The main thread wrote a request; the worker has not taken it yet. */
export const SLOT_REQUEST = 1;
/** The worker is running it (or answered it by message, when the answer outgrew the slot). */
export const SLOT_RUNNING = 2;
/** The worker wrote the answer into the slot. */
export const SLOT_RESPONSE = 3;

/** Int32 indices of the control block. */
const REQUEST_BELL = 0;
const RESPONSE_BELL = 1;
/** Set by `kill()`: the worker exits before taking any further slot, as at its next message. */
const CRASH = 2;
/** Set by `close()`: the worker's slot loop ends. */
const CLOSE = 3;
const STATE_BASE = 8;
const CONTROL_BYTES = 256;
export const MAX_SLOTS = CONTROL_BYTES / 4 - STATE_BASE;

/** Per slot: startedMs, endedMs (Float64), id, description length (Int32), description (UTF-16). */
const HEADER_BYTES = 4096;
const DESCRIPTION_OFFSET = 24;
const MAX_DESCRIPTION_CHARS = (HEADER_BYTES - DESCRIPTION_OFFSET) / 2;

/** What the worker reads from a request slot. */
export interface SlotRequest {
  id: number;
  inputs: Tensor[];
  outputNames: string[];
}

/** What the main thread reads from an answered slot. */
export interface SlotResponse {
  id: number;
  outputs: Tensor[];
  startedMs: number;
  endedMs: number;
}

/** [name, datatype, shape, byte offset in the data area, byte length] */
type Described = [string, string, number[], number, number];

/** Atomics.waitAsync (V8 since Node 16; TypeScript types it from lib es2024, newer than ours). */
type WaitAsync = (array: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * The slots of one model instance. Each side holds one over the same buffer; a slot belongs to the
 * main thread while FREE or RESPONSE and to the worker while REQUEST or RUNNING, so no byte of it
 * is ever written by both at once. Tensors are copied in and copied out: onnxruntime-node rejects
 * typed arrays over shared memory, and a slot is reused as soon as its answer is read.
 *
 * @example
 * const slots = SharedSlots.create(2, 1 << 20);
 * if (slots.write(0, 7, inputs, ['probabilities'])) slots.post(0); // the worker's `take()` now sees it
 */
export class SharedSlots {
  private readonly control: Int32Array;
  private readonly stride: number;

  private constructor(
    readonly buffer: SharedArrayBuffer,
    readonly count: number,
    /** Bytes of tensor data one slot holds (requests and answers alike). */
    readonly dataBytes: number,
  ) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.stride = HEADER_BYTES + dataBytes;
  }

  /** Allocates `count` slots of `dataBytes` each (rounded up to 8). */
  static create(count: number, dataBytes: number): SharedSlots {
    if (!Number.isInteger(count) || count < 1 || count > MAX_SLOTS) throw new RangeError(`slot count must be 1..${MAX_SLOTS}, got ${count}`);
    const bytes = align8(Math.max(8, dataBytes));
    return new SharedSlots(new SharedArrayBuffer(CONTROL_BYTES + count * (HEADER_BYTES + bytes)), count, bytes);
  }

  /** The other side's view of a buffer made by `create`. */
  static attach(buffer: SharedArrayBuffer, count: number, dataBytes: number): SharedSlots {
    return new SharedSlots(buffer, count, align8(Math.max(8, dataBytes)));
  }

  state(slot: number): number {
    return Atomics.load(this.control, STATE_BASE + slot);
  }

  /** Sets a slot's state (main thread: FREE after reading an answer; worker: RESPONSE via `answer`). */
  setState(slot: number, state: number): void {
    Atomics.store(this.control, STATE_BASE + slot, state);
  }

  /**
   * Writes tensors (and, for a request, the output names) into `slot`; false, with nothing
   * changed that matters, when they do not fit (too many bytes, string tensors, a description too
   * long): the caller sends them by message instead.
   */
  write(slot: number, id: number, tensors: readonly Tensor[], outputNames: readonly string[] = [], startedMs = 0, endedMs = 0): boolean {
    const described: Described[] = [];
    let offset = 0;
    for (const t of tensors) {
      if (Array.isArray(t.data)) return false;
      const data = t.data as NumericTypedArray;
      described.push([t.name, t.datatype, t.shape, offset, data.byteLength]);
      offset = align8(offset + data.byteLength);
    }
    if (offset > this.dataBytes) return false;
    const description = JSON.stringify([described, outputNames]);
    if (description.length > MAX_DESCRIPTION_CHARS) return false;
    const base = CONTROL_BYTES + slot * this.stride;
    const chars = new Uint16Array(this.buffer, base + DESCRIPTION_OFFSET, description.length);
    for (let i = 0; i < description.length; i++) chars[i] = description.charCodeAt(i);
    const numbers = new Float64Array(this.buffer, base, 2);
    numbers[0] = startedMs;
    numbers[1] = endedMs;
    const ints = new Int32Array(this.buffer, base + 16, 2);
    ints[0] = id;
    ints[1] = description.length;
    const area = new Uint8Array(this.buffer, base + HEADER_BYTES, this.dataBytes);
    for (let i = 0; i < tensors.length; i++) {
      const data = tensors[i]!.data as NumericTypedArray;
      area.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), described[i]![3]);
    }
    return true;
  }

  /** Reads what `write` put in `slot`, copying each tensor into its own (unshared) buffer. */
  read(slot: number): SlotResponse & { outputNames: string[] } {
    const base = CONTROL_BYTES + slot * this.stride;
    const [id, length] = new Int32Array(this.buffer, base + 16, 2) as unknown as [number, number];
    const chars = new Uint16Array(this.buffer, base + DESCRIPTION_OFFSET, length);
    let description = '';
    // fromCharCode over chunks: one call per 1024 chars keeps the argument list small.
    for (let i = 0; i < length; i += 1024) description += String.fromCharCode(...chars.subarray(i, Math.min(length, i + 1024)));
    const [described, outputNames] = JSON.parse(description) as [Described[], string[]];
    const tensors = described.map(([name, datatype, shape, offset, byteLength]): Tensor => {
      if (!isDatatype(datatype)) throw new Error(`slot ${slot} describes an unknown datatype '${datatype}'`);
      const bytes = new Uint8Array(byteLength);
      bytes.set(new Uint8Array(this.buffer, base + HEADER_BYTES + offset, byteLength));
      const ctor = DATATYPE_INFO[datatype].arrayType!;
      return { name, datatype, shape, data: new ctor(bytes.buffer, 0, byteLength / ctor.BYTES_PER_ELEMENT) };
    });
    const [startedMs, endedMs] = new Float64Array(this.buffer, base, 2) as unknown as [number, number];
    return { id, outputs: tensors, outputNames, startedMs, endedMs };
  }

  /** Main thread: hands a written slot to the worker and wakes it. */
  post(slot: number): void {
    this.setState(slot, SLOT_REQUEST);
    Atomics.add(this.control, REQUEST_BELL, 1);
    Atomics.notify(this.control, REQUEST_BELL);
  }

  /** Worker: marks a slot answered and wakes the main thread. */
  answer(slot: number): void {
    this.setState(slot, SLOT_RESPONSE);
    Atomics.add(this.control, RESPONSE_BELL, 1);
    Atomics.notify(this.control, RESPONSE_BELL);
  }

  /** Worker: claims the next posted slot (REQUEST → RUNNING), or undefined when none is posted. */
  take(): number | undefined {
    for (let slot = 0; slot < this.count; slot++) {
      if (Atomics.compareExchange(this.control, STATE_BASE + slot, SLOT_REQUEST, SLOT_RUNNING) === SLOT_REQUEST) return slot;
    }
    return undefined;
  }

  /** Worker: resolves once a request may have been posted since `seen` (the bell's value before looking). */
  async waitForRequest(seen: number): Promise<void> {
    const wait = waitAsync(this.control, REQUEST_BELL, seen);
    if (wait.async) await wait.value;
  }

  /** Main thread: resolves once an answer may have been written since `seen`. */
  async waitForResponse(seen: number): Promise<void> {
    const wait = waitAsync(this.control, RESPONSE_BELL, seen);
    if (wait.async) await wait.value;
  }

  get requestBell(): number {
    return Atomics.load(this.control, REQUEST_BELL);
  }

  get responseBell(): number {
    return Atomics.load(this.control, RESPONSE_BELL);
  }

  /** Main thread: wakes its own response watcher (so it notices the instance is gone). */
  ringResponse(): void {
    Atomics.add(this.control, RESPONSE_BELL, 1);
    Atomics.notify(this.control, RESPONSE_BELL);
  }

  /** Orders the worker to exit before it takes another slot (see `ModelInstance.kill`). */
  orderCrash(): void {
    Atomics.store(this.control, CRASH, 1);
    Atomics.add(this.control, REQUEST_BELL, 1);
    Atomics.notify(this.control, REQUEST_BELL);
  }

  get crashOrdered(): boolean {
    return Atomics.load(this.control, CRASH) === 1;
  }

  /** Ends the worker's slot loop. */
  orderClose(): void {
    Atomics.store(this.control, CLOSE, 1);
    Atomics.add(this.control, REQUEST_BELL, 1);
    Atomics.notify(this.control, REQUEST_BELL);
  }

  get closeOrdered(): boolean {
    return Atomics.load(this.control, CLOSE) === 1;
  }
}
