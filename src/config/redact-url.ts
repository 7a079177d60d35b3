/**
 * A connection URL with its password hidden, for messages, logs and banners.
 *
 * @example
 * redactUrl('postgres://ml:secret@db:5432/ml'); // 'postgres://ml:***@db:5432/ml'
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}
