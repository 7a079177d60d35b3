// OIP's metadata shapes on their own, so clients and the browser bundle's types take them without
// the server they come from.

/** A tensor as OIP metadata describes it; -1 marks a variable dimension. */
export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** OIP model metadata, the same for REST, gRPC and the dialects' status routes. */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}
