import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding `grpc_predict_v2.proto` and `health.proto` (the package's `proto/`). Compiled
 * files live in dist/src/protocol/grpc/, four levels below the package root.
 */
export const PROTO_DIR = fileURLToPath(new URL('../../../../proto/', import.meta.url));

/**
 * How messages look in JavaScript: field names as in the .proto (snake_case, what OIP documents),
 * 64-bit integers as decimal strings (exact; numbers would round past 2^53), bytes as Buffers,
 * repeated fields always arrays, and oneofs naming their chosen field.
 */
export const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: false,
  arrays: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

interface Loaded {
  inference: ServiceClientConstructor;
  health: ServiceClientConstructor;
}

let loaded: Loaded | undefined;

/** The OIP inference service and the standard health service, parsed once from the .proto files. */
export function loadServices(): Loaded {
  if (loaded !== undefined) return loaded;
  const definition = loadSync(['grpc_predict_v2.proto', 'health.proto'], LOADER_OPTIONS);
  const root = loadPackageDefinition(definition);
  const inference = (root.inference as GrpcObject).GRPCInferenceService as ServiceClientConstructor;
  const health = ((root.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject;
  loaded = { inference, health: health.Health as ServiceClientConstructor };
  return loaded;
}

/** An InferParameter / ModelRepositoryParameter as proto-loader hands it over (`oneofs: true`). */
export interface WireParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param' | 'bytes_param';
  bool_param?: boolean;
  int64_param?: string | number;
  string_param?: string;
  double_param?: number;
  uint64_param?: string | number;
  bytes_param?: Buffer;
}

/** InferTensorContents; every field present (possibly empty) thanks to `arrays: true`. */
export interface WireContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Array<string | number>;
  uint_contents?: number[];
  uint64_contents?: Array<string | number>;
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface WireInputTensor {
  name?: string;
  datatype?: string;
  shape?: Array<string | number>;
  parameters?: Record<string, WireParameter>;
  contents?: WireContents | null;
}

export interface WireRequestedOutput {
  name?: string;
  parameters?: Record<string, WireParameter>;
}

export interface WireInferRequest {
  model_name?: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, WireParameter>;
  inputs?: WireInputTensor[];
  outputs?: WireRequestedOutput[];
  raw_input_contents?: Uint8Array[];
}

export interface WireOutputTensor {
  name: string;
  datatype: string;
  shape: Array<string | number>;
  parameters?: Record<string, WireParameter>;
  contents?: WireContents;
}

export interface WireInferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Record<string, WireParameter>;
  outputs: WireOutputTensor[];
  raw_output_contents?: Uint8Array[];
}
