/**
 * Which typed `contents` field of the OIP gRPC messages (InferTensorContents) carries each
 * datatype; FP16 has none (raw only). Plain data, so the browser UI's grpcurl snippets use it too.
 *
 * @example
 * CONTENTS_FIELD.FP32; // 'fp32_contents'
 */
export const CONTENTS_FIELD = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
} as const;
