// What a handler compiled for the browser imports as 'slipway' (slipway edge rewrites the import):
// the handler-facing part of Slipway's API, from the same sources the server uses, with the image
// seam pointing at the browser's decoder. A handler importing anything else from 'slipway' (the
// server, the clients) is reported at bundle time and runs on the server only.
export * from '../../runtime/handler/handler-api.js';
export { ServingError, isServingError } from '../../errors/serving-error.js';
export { ERROR_CODES, type ErrorCode, type ErrorCategory } from '../../errors/codes.js';
export { DATATYPES, type Datatype, type TensorData } from '../../tensor/datatypes.js';
export type { Tensor, Parameters, ParameterValue } from '../../tensor/tensor.js';
