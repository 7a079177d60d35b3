/**
 * Parses `100/s`, `6000/min` (or `/m`, `/h`) into a rate per second; throws a message naming the
 * expected form.
 */
export function parseRate(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute|h|hour)\s*$/i.exec(text);
  if (match === null) throw new Error(`expected a rate such as 100/s or 6000/min, got '${text.slice(0, 40)}'`);
  const count = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  const seconds = unit.startsWith('h') ? 3600 : unit.startsWith('m') ? 60 : 1;
  if (!(count > 0)) throw new Error(`expected a rate above 0, got '${text.slice(0, 40)}'`);
  return count / seconds;
}
