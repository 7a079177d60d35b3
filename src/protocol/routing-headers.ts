/** The header (and gRPC metadata key) that pins a request to a version, for testers: the URL's version wins over it. */
export const VERSION_HEADER = 'x-slipway-version';
/** The header (and gRPC metadata key) carrying a sticky routing key: one key keeps one version while the weights hold. */
export const KEY_HEADER = 'x-slipway-key';

/**
 * The routing fields of an internal request, from a request's headers or gRPC metadata (`get`
 * returns a header's value) and the version its path names, if any. Shared by every adapter, so a
 * tester's forced version and a sticky key mean the same on every protocol.
 *
 * @example
 * const routing = routingFields((name) => headerValue(request.headers[name]), request.params.version);
 * await slipway.router.infer({ model, inputs, ...routing });
 */
export function routingFields(get: (name: string) => string | undefined, pathVersion?: string): { version?: string; routingKey?: string } {
  const version = pathVersion ?? nonEmpty(get(VERSION_HEADER));
  const routingKey = nonEmpty(get(KEY_HEADER));
  return { ...(version !== undefined && { version }), ...(routingKey !== undefined && { routingKey }) };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}
