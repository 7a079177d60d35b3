// What a handler compiled for the browser imports as 'slipway' (slipway edge rewrites the import):
// the handler-facing part of Slipway's API, from the same sources the server uses, with the image
// seam pointing at the browser's decoder. A handler importing anything else from 'slipway' (the
// server, the clients) is reported at bundle time and runs on the server only.
export { defineHandler } from '../../runtime/handler/define-handler.js';
export type {
  HandlerDefinition,
  PredictHandler,
  GraphHandler,
  HandlerContext,
  PredictContext,
  TensorInput,
  ModelInputs,
  ModelOutputs,
  InferOptions,
} from '../../runtime/handler/define-handler.js';
export { file, type UploadedFile, type FileOptions } from '../../runtime/handler/file-schema.js';
export {
  image,
  decodeImage,
  resizeImage,
  imageToTensor,
  type DecodedImage,
  type DecodeImageOptions,
  type ImageFieldOptions,
  type ImageFormat,
  type ResizeOptions,
  type ImageTensorOptions,
} from '../../runtime/handler/image.js';
export { ServingError, isServingError } from '../../errors/serving-error.js';
export { ERROR_CODES, type ErrorCode, type ErrorCategory } from '../../errors/codes.js';
export { DATATYPES, type Datatype, type TensorData } from '../../tensor/datatypes.js';
export type { Tensor, Parameters, ParameterValue } from '../../tensor/tensor.js';
export { z } from 'zod';
