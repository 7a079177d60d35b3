import { ServingError } from '../../errors/serving-error.js';
import type { Model } from '../../repository/model-repository.js';
import type { Slipway } from '../../slipway.js';
import type { ModelDescription } from './model-description.js';

export function modelKind(model: Model): 'pipeline' | 'graph' {
  return model.versions.size === 0 && model.handler !== undefined ? 'pipeline' : 'graph';
}

export function modelState(model: Model): string {
  if (modelKind(model) === 'pipeline') return model.handler!.state;
  const states = [...model.versions.values()].map((v) => v.state);
  if (states.includes('READY')) return 'READY';
  if (states.includes('LOADING')) return 'LOADING';
  return states[0] ?? 'UNAVAILABLE';
}

/**
 * What `GET /api/models/{m}` answers (and what a browser bundle carries for its page); `base` is the
 * route prefix the predict path is given under. Throws MODEL_NOT_FOUND for an unknown model.
 *
 * @example
 * describeModel(slipway, 'digits', '').handler?.predict?.path; // '/api/models/digits/predict'
 */
export function describeModel(slipway: Slipway, name: string, base: string): ModelDescription {
  const model = slipway.repository.get(name);
  if (model === undefined) {
    throw new ServingError('MODEL_NOT_FOUND', `unknown model '${name}'; serving: ${slipway.repository.names().join(', ') || 'nothing'}`);
  }
  const handler = model.handler;
  const description = handler?.pool?.description;
  return {
    name,
    kind: modelKind(model),
    state: modelState(model),
    ...(model.reason !== undefined && { reason: model.reason }),
    versions: [...model.versions.values()].map((v) => ({ version: String(v.version), state: v.state, reason: v.reason ?? '' })),
    handler:
      handler === undefined
        ? null
        : {
            file: handler.file.split(/[\\/]/).pop(),
            state: handler.state,
            reason: handler.reason ?? '',
            ...(description?.mode === 'tensor' && {
              mode: description.mode,
              ...(description.description !== undefined && { description: description.description }),
            }),
            ...(description !== undefined && description.mode !== 'tensor' && {
              mode: description.mode,
              ...(description.description !== undefined && { description: description.description }),
              predict: {
                method: 'POST' as const,
                path: `${base}/api/models/${name}/predict`,
                content_types: [
                  'application/json',
                  'multipart/form-data',
                  ...(description.fileFields.length === 1 ? ['image/*', 'application/octet-stream'] : []),
                ],
              },
              input_schema: description.inputSchema,
              output_schema: description.outputSchema,
              file_fields: description.fileFields,
            }),
            ...(handler.config.uses.length > 0 && { uses: handler.config.uses }),
            limits: {
              timeout_ms: handler.config.timeoutMs,
              max_file_bytes: handler.config.maxFileBytes,
              max_files: handler.config.maxFiles,
              max_concurrency: handler.config.maxConcurrency * handler.config.instanceCount,
            },
          },
  };
}
