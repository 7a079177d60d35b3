/** The cookie the UI's sign-in route sets (HttpOnly, SameSite=Strict): pages and downloads carry it. */
export const KEY_COOKIE = 'slipway_key';

/**
 * The API key a request presents: `Authorization: Bearer <key>`, else `x-api-key: <key>`, else
 * (HTTP only, when `cookie` is given) the UI's sign-in cookie. An Authorization header of another
 * scheme presents no key.
 *
 * @example
 * presentedKey((name) => request.headers[name] as string | undefined);
 */
export function presentedKey(header: (name: string) => string | undefined, options: { cookie?: boolean } = {}): string | undefined {
  const authorization = header('authorization');
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
    if (match !== null) return match[1];
  }
  const apiKey = header('x-api-key')?.trim();
  if (apiKey !== undefined && apiKey !== '') return apiKey;
  if (options.cookie === true) return cookieValue(header('cookie'), KEY_COOKIE);
  return undefined;
}

/** One cookie's value from a Cookie header (percent-decoded), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}
