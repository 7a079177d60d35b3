import type { FastifyPluginAsync } from 'fastify';
import type { Slipway } from '../../../slipway.js';
import { sendError } from '../error-reply.js';
import { DEFAULT_BODY_LIMIT_BYTES } from '../oip-routes.js';
import { registerAzureMlRoutes } from './azure-ml.js';
import { registerSageMakerRoutes } from './sagemaker.js';
import { registerTfServingRoutes } from './tf-serving.js';

export interface DialectRoutesOptions {
  slipway: Slipway;
  bodyLimitBytes?: number;
  /** Largest JSON header of a SageMaker binary-tensor request (413 beyond; default 1 MiB). */
  maxInferenceHeaderBytes?: number;
  /** The model that routes naming none (Vertex, SageMaker, Azure) go to when several are served. */
  defaultModel?: string;
  /** Vertex AI's AIP_PREDICT_ROUTE and AIP_HEALTH_ROUTE. */
  vertexPredictRoute?: string;
  vertexHealthRoute?: string;
}

/** Fastify takes ':' in a path as a parameter; Vertex's routes (`…/deployedModels/ID:predict`) mean it literally. */
function literalPath(path: string): string {
  return path.replace(/:/g, '::');
}

/**
 * The cloud dialects on the same server as OIP: TF Serving / Vertex AI, SageMaker and Azure ML.
 * Each decodes into the one internal request and calls the same router, so a model answers the
 * same numbers whichever cloud's client calls it.
 *
 * @example
 * await app.register(dialectRoutes, { slipway, defaultModel: 'digits' });
 */
export const dialectRoutes: FastifyPluginAsync<DialectRoutesOptions> = async (app, options) => {
  const { slipway } = options;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES }, (_req, body, done) =>
    done(null, body),
  );
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  const defaults = options.defaultModel !== undefined ? { defaultModel: options.defaultModel } : {};
  registerTfServingRoutes(app, slipway, {
    ...defaults,
    ...(options.vertexPredictRoute !== undefined && { vertexPredictRoute: literalPath(options.vertexPredictRoute) }),
    ...(options.vertexHealthRoute !== undefined && { vertexHealthRoute: literalPath(options.vertexHealthRoute) }),
  });
  registerSageMakerRoutes(app, slipway, {
    ...defaults,
    ...(options.maxInferenceHeaderBytes !== undefined && { maxInferenceHeaderBytes: options.maxInferenceHeaderBytes }),
  });
  registerAzureMlRoutes(app, slipway, defaults);
};
