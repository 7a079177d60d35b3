import { fullShape, type TensorSpec } from '../config/model-config.js';
import type { Slipway } from '../slipway.js';
import type { ModelMetadata, TensorMetadata } from './metadata-types.js';

export type { ModelMetadata, TensorMetadata };

/**
 * Metadata of the version (model, version?) resolves to. Without a version it lists every READY
 * version of the model; with one, only that one. Throws MODEL_NOT_FOUND / VERSION_NOT_FOUND /
 * MODEL_NOT_READY as the router does.
 */
export function modelMetadata(slipway: Slipway, model: string, version?: string): ModelMetadata {
  const target = slipway.router.resolve(model, version);
  const config = target.config;
  const versions =
    version !== undefined && version !== ''
      ? [String(target.version)]
      : [...slipway.repository.get(model)!.versions.values()].filter((v) => v.state === 'READY').map((v) => String(v.version));
  const tensor = (t: TensorSpec): TensorMetadata => ({ name: t.name, datatype: t.datatype, shape: fullShape(config, t) });
  return { name: model, versions, platform: config.platform, inputs: config.inputs.map(tensor), outputs: config.outputs.map(tensor) };
}

/** Whether (model, version?) is READY, and why not. Throws only for unknown models and versions. */
export function modelReadiness(slipway: Slipway, model: string, version?: string): { ready: boolean; reason?: string } {
  const target = slipway.router.find(model, version);
  if (target.state === 'READY') return { ready: true };
  return { ready: false, reason: `model '${model}' version ${target.version} is ${target.state}${target.reason ? `: ${target.reason}` : ''}` };
}
