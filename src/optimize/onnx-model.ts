import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ServingError } from '../errors/serving-error.js';
import {
  ModelProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './proto/onnx-ml_pb.js';

/**
 * Protobuf refuses messages over 2 GiB; models beyond that keep their weights in external data
 * files. Leave a margin for the graph itself.
 */
const MAX_INLINE_BYTES = 1.8 * 1024 ** 3;
/** Tensors moved to the external data file when a model has to be split; small ones stay inline, as onnx does. */
const EXTERNAL_MIN_BYTES = 1024;

/** A model as read from disk: the message, and the folder its external data locations are relative to. */
export interface OnnxModel {
  proto: ModelProto;
  /** Folder of the `.onnx` file; external data locations resolve against it. */
  dir: string;
}

/**
 * Decodes ONNX bytes. Fields this definition does not know (a newer IR) are kept and written back
 * unchanged, so reading and writing a model never loses anything.
 *
 * @example
 * const proto = decodeOnnxModel(await readFile('model.onnx'));
 */
export function decodeOnnxModel(bytes: Uint8Array, source = 'model'): ModelProto {
  try {
    return fromBinary(ModelProtoSchema, bytes, { readUnknownFields: true });
  } catch (error) {
    throw new ServingError('MODEL_LOAD_FAILED', `${source} is not a readable ONNX model: ${(error as Error).message}`, { cause: error });
  }
}

/** Encodes a model in protobuf's canonical field order, unknown fields included. */
export function encodeOnnxModel(proto: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, proto, { writeUnknownFields: true });
}

/**
 * Reads an `.onnx` file. Tensors stored in external data files stay there (they are read on
 * demand by `tensorBytes`), so a 3 GB model does not have to fit in one buffer.
 *
 * @example
 * const model = await readOnnxModel('models/digits/1/model.onnx');
 * console.log(model.proto.graph?.node.length);
 */
export async function readOnnxModel(path: string): Promise<OnnxModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ServingError('MODEL_NOT_FOUND', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  return { proto: decodeOnnxModel(bytes, path), dir: dirname(path) };
}

/** Every graph of a model: the main graph, then (depth first) the bodies of If/Loop/Scan and function bodies' subgraphs. */
export function* allGraphs(graph: GraphProto | undefined): Generator<GraphProto> {
  if (graph === undefined) return;
  yield graph;
  for (const node of graph.node) {
    for (const attribute of node.attribute) {
      if (attribute.g !== undefined) yield* allGraphs(attribute.g);
      for (const g of attribute.graphs) yield* allGraphs(g);
    }
  }
}

/** Every tensor a model stores: initializers (sparse ones' parts too) and tensor attributes, in every graph and function. */
export function* allTensors(proto: ModelProto): Generator<TensorProto> {
  if (proto.graph !== undefined) yield* graphTensors(proto.graph);
  for (const info of proto.trainingInfo) {
    if (info.initialization !== undefined) yield* graphTensors(info.initialization);
    if (info.algorithm !== undefined) yield* graphTensors(info.algorithm);
  }
  for (const fn of proto.functions) for (const node of fn.node) yield* nodeTensors(node);
}

function* graphTensors(graph: GraphProto): Generator<TensorProto> {
  yield* graph.initializer;
  for (const sparse of graph.sparseInitializer) {
    if (sparse.values !== undefined) yield sparse.values;
    if (sparse.indices !== undefined) yield sparse.indices;
  }
  for (const node of graph.node) yield* nodeTensors(node);
}

function* nodeTensors(node: NodeProto): Generator<TensorProto> {
  for (const attribute of node.attribute) {
    if (attribute.t !== undefined) yield attribute.t;
    yield* attribute.tensors;
    for (const sparse of [attribute.sparseTensor, ...attribute.sparseTensors]) {
      if (sparse?.values !== undefined) yield sparse.values;
      if (sparse?.indices !== undefined) yield sparse.indices;
    }
    if (attribute.g !== undefined) yield* graphTensors(attribute.g);
    for (const g of attribute.graphs) yield* graphTensors(g);
  }
}

export interface ExternalLocation {
  location: string;
  offset: number;
  /** undefined: to the end of the file. */
  length: number | undefined;
}

/** Where an external tensor's bytes are, or undefined for a tensor stored in the model. */
export function externalLocation(tensor: TensorProto): ExternalLocation | undefined {
  if (tensor.dataLocation !== TensorProto_DataLocation.EXTERNAL) return undefined;
  const entry = (key: string): string | undefined => tensor.externalData.find((e) => e.key === key)?.value;
  const location = entry('location');
  if (location === undefined || location === '') {
    throw new ServingError('MODEL_LOAD_FAILED', `tensor '${tensor.name}' is stored externally but names no location`);
  }
  const offset = Number(entry('offset') ?? 0);
  const length = entry('length');
  return { location, offset, length: length === undefined ? undefined : Number(length) };
}

/** The path of an external data file, refusing locations that climb out of the model's folder (onnx refuses them too). */
export function externalPath(dir: string, location: string): string {
  const path = normalize(join(dir, location));
  if (isAbsolute(location) || !(path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep))) {
    throw new ServingError('MODEL_LOAD_FAILED', `external data location '${location}' points outside the model's folder`);
  }
  return path;
}

/** Reads the bytes of an external tensor. */
export async function readExternalBytes(dir: string, tensor: TensorProto): Promise<Uint8Array> {
  const where = externalLocation(tensor);
  if (where === undefined) return tensor.rawData;
  const path = externalPath(dir, where.location);
  const handle = await open(path, 'r');
  try {
    const length = where.length ?? (await handle.stat()).size - where.offset;
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, where.offset);
    if (bytesRead !== length) {
      throw new ServingError('MODEL_LOAD_FAILED', `tensor '${tensor.name}': ${where.location} holds ${bytesRead} of its ${length} bytes at offset ${where.offset}`);
    }
    return buffer;
  } finally {
    await handle.close();
  }
}

/** Moves every external tensor's bytes into the model (raw_data), so it can be edited in memory. */
export async function inlineExternalData(model: OnnxModel): Promise<void> {
  for (const tensor of allTensors(model.proto)) {
    if (tensor.dataLocation !== TensorProto_DataLocation.EXTERNAL) continue;
    tensor.rawData = await readExternalBytes(model.dir, tensor);
    tensor.dataLocation = TensorProto_DataLocation.DEFAULT;
    tensor.externalData = [];
  }
}

/** The external data files a model refers to, relative to its folder. */
export function externalFiles(proto: ModelProto): string[] {
  const files = new Set<string>();
  for (const tensor of allTensors(proto)) {
    const where = externalLocation(tensor);
    if (where !== undefined) files.add(where.location);
  }
  return [...files];
}

export interface WriteOptions {
  /** Where a model read from disk keeps its external data files (copied beside the new file). */
  sourceDir?: string;
}

/**
 * Writes a model to `path` atomically: everything goes to temporary names in the target folder
 * first and is renamed into place at the end, so a failure leaves nothing behind. External data
 * files the model refers to are copied beside it; a model too large for one protobuf message has
 * its larger tensors moved to `<file>.data`, as onnx's `save_model(..., save_as_external_data=True)` does.
 *
 * @example
 * const model = await readOnnxModel('a/1/model.onnx');
 * await writeOnnxModel(model.proto, 'a/2/model.onnx', { sourceDir: model.dir });
 */
export async function writeOnnxModel(proto: ModelProto, path: string, options: WriteOptions = {}): Promise<{ sizeBytes: number; files: string[] }> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const suffix = `.tmp-${process.pid}-${Date.now()}`;
  const staged: Array<[string, string]> = [];
  try {
    let sizeBytes = 0;
    for (const location of externalFiles(proto)) {
      if (options.sourceDir === undefined) throw new ServingError('MODEL_LOAD_FAILED', `the model refers to external data '${location}' but no source folder was given to copy it from`);
      const target = externalPath(dir, location);
      await mkdir(dirname(target), { recursive: true });
      await pipeline(createReadStream(externalPath(options.sourceDir, location)), createWriteStream(target + suffix));
      staged.push([target + suffix, target]);
      sizeBytes += (await stat(target + suffix)).size;
    }
    let bytes = encodeOnnxModel(proto);
    if (bytes.byteLength > MAX_INLINE_BYTES) {
      const dataName = `${basename(path)}.data`;
      const dataPath = join(dir, dataName);
      bytes = await splitExternal(proto, dataPath + suffix, dataName);
      staged.push([dataPath + suffix, dataPath]);
      sizeBytes += (await stat(dataPath + suffix)).size;
    }
    const handle = await open(path + suffix, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    staged.push([path + suffix, path]);
    sizeBytes += bytes.byteLength;
    // The model file last: a reader that sees it sees its data files too.
    for (const [from, to] of staged) await rename(from, to);
    return { sizeBytes, files: staged.map(([, to]) => to) };
  } catch (error) {
    await Promise.all(staged.map(([from]) => rm(from, { force: true })));
    await rm(path + suffix, { force: true });
    throw error;
  }
}

async function splitExternal(proto: ModelProto, dataPath: string, location: string): Promise<Uint8Array> {
  const handle = await open(dataPath, 'w');
  let offset = 0;
  try {
    for (const tensor of allTensors(proto)) {
      if (tensor.dataLocation === TensorProto_DataLocation.EXTERNAL || tensor.rawData.byteLength < EXTERNAL_MIN_BYTES) continue;
      const data = tensor.rawData;
      await handle.write(data, 0, data.byteLength, offset);
      tensor.externalData = [
        create(StringStringEntryProtoSchema, { key: 'location', value: location }),
        create(StringStringEntryProtoSchema, { key: 'offset', value: String(offset) }),
        create(StringStringEntryProtoSchema, { key: 'length', value: String(data.byteLength) }),
      ];
      tensor.dataLocation = TensorProto_DataLocation.EXTERNAL;
      tensor.rawData = new Uint8Array(0);
      offset += data.byteLength;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return encodeOnnxModel(proto);
}
