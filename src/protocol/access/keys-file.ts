import { readFileSync } from 'node:fs';
import { ServingError } from '../../errors/serving-error.js';
import { ACCESS_GROUPS, type AccessGroup } from './access-keys.js';

/**
 * Reads a keys file: one key a line as `<group> <key>` (group `inference`, `ui` or `admin`), `#`
 * comments and blank lines ignored. A Kubernetes Secret mounted as a file fits it as it is. Every
 * bad line is reported at once, by number, without echoing the key.
 *
 * @example
 * // keys.txt:  inference k-3f9a…   ui u-77c1…   admin a-0b2e…
 * const keys = readKeysFile('/etc/slipway/keys');
 */
export function readKeysFile(path: string): Record<AccessGroup, string[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ServingError('CONFIG_INVALID', `keys_file: cannot read ${path}: ${(error as Error).message}`);
  }
  return parseKeys(text, `keys_file ${path}`);
}

/** Parses the keys file format (see `readKeysFile`); `where` prefixes each problem. */
export function parseKeys(text: string, where: string): Record<AccessGroup, string[]> {
  const keys: Record<AccessGroup, string[]> = { inference: [], ui: [], admin: [] };
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [group, key, ...rest] = line.split(/\s+/);
    if (!ACCESS_GROUPS.includes(group as AccessGroup)) {
      problems.push(`line ${index + 1}: expected '<group> <key>' with group inference, ui or admin, got group '${(group ?? '').slice(0, 20)}'`);
    } else if (key === undefined || rest.length > 0) {
      problems.push(`line ${index + 1}: expected '<group> <key>' (one key, no spaces in it)`);
    } else if (key.length < 8) {
      problems.push(`line ${index + 1}: the ${group} key is shorter than 8 characters`);
    } else {
      keys[group as AccessGroup].push(key);
    }
  });
  if (problems.length > 0) throw new ServingError('CONFIG_INVALID', `${where}:\n  ${problems.join('\n  ')}`);
  return keys;
}
