import type { ModelConfig } from '../../config/model-config.js';
import type { JsonStepFields } from './json-handler-step.js';
import { invalidGraph } from './tensor-types.js';

/** What a graph's steps call, as a planner sees it when the graph loads. */
export interface StepCatalog {
  /**
   * The config a local step would be served with (the version the router would pick), or a thrown
   * ServingError saying why there is none: an unknown model (CONFIG_INVALID) or one that is not
   * READY (MODEL_NOT_READY, with its reason), which makes the graph UNAVAILABLE.
   */
  model(name: string, version: string | undefined): ModelConfig;
  /** The signature of a remote step's model, fetched before planning (throws when it could not be). */
  remote(url: string): ModelConfig;
  /**
   * When `name` is a READY JSON handler with no graph of its own: its request and response as
   * tensors (throws CONFIG_INVALID when they have no tensor form). Undefined for anything else.
   */
  jsonHandler?(name: string): { config: ModelConfig; fields: JsonStepFields } | undefined;
}

/** A remote step's endpoint: the server's base URL and the model (and version) its path names. */
export interface RemoteEndpoint {
  url: string;
  baseUrl: string;
  model: string;
  version?: string;
}

const V2_INFER = /^(https?:\/\/[^/?#]+(?:\/[^?#]*?)?)\/v2\/models\/([^/?#]+)(?:\/versions\/([1-9][0-9]*))?\/infer\/?$/;

/**
 * Splits an OIP v2 infer URL (`http://host:8000/v2/models/digits/infer`, optionally with
 * `/versions/2` or a path prefix before `/v2`) into base URL, model and version.
 *
 * @example
 * parseRemoteUrl('http://10.0.0.7:8000/v2/models/digits/infer', 'serviceUrl');
 * // { url, baseUrl: 'http://10.0.0.7:8000', model: 'digits' }
 */
export function parseRemoteUrl(url: string, where: string): RemoteEndpoint {
  const match = V2_INFER.exec(url);
  if (match === null) {
    throw invalidGraph(
      `${where}: '${url}' is not an Open Inference Protocol infer URL; expected http(s)://host[:port]/v2/models/<model>[/versions/<n>]/infer` +
        (/\/v1\/models\/[^/]+:predict/.test(url) ? ' (KServe v1 :predict endpoints exchange JSON rows, not tensors)' : ''),
    );
  }
  return { url, baseUrl: match[1]!, model: decodeURIComponent(match[2]!), ...(match[3] !== undefined && { version: match[3] }) };
}
