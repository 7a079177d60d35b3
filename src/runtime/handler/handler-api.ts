// What a handler uses of Slipway: one list, exported by the package ('slipway') and by a browser
// bundle's handler-api.js, so a handler imports the same names wherever it runs.
export {
  defineHandler,
  defineTensorHandler,
  type TensorHandler,
  type TensorSignature,
  type TensorPredictContext,
  type HandlerDefinition,
  type PredictHandler,
  type GraphHandler,
  type HandlerContext,
  type PredictContext,
  type TensorInput,
  type ModelInputs,
  type ModelOutputs,
  type InferOptions,
  type ShadowComparison,
} from './define-handler.js';
export { file, type UploadedFile, type FileOptions } from './file-schema.js';
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
} from './image.js';
/** zod, re-exported so handler schemas use the same instance Slipway validates and describes them with. */
export { z } from 'zod';
