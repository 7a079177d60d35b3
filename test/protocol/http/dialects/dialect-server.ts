import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXAMPLES } from '../../../helpers/paths.js';
import { docRepository, halfPlusTwo, linear10, tagSignalSensor, twoColumns } from '../../../helpers/doc-models.js';
import { startProtocolServer, type ProtocolServer } from '../../../helpers/protocol-server.js';
import type { HttpServerOptions } from '../../../../src/server/http-server.js';

/** A server with the documentation-shaped models and digits, for the dialect tests. */
export async function startDialectServer(options: HttpServerOptions = {}): Promise<ProtocolServer & { removeRepository: () => Promise<void> }> {
  const repo = await docRepository({
    half_plus_two: halfPlusTwo(),
    tag_signal_sensor: tagSignalSensor(),
    linear10: linear10(),
    two_columns: twoColumns(),
    digits: await readFile(join(EXAMPLES, 'digits', '1', 'model.onnx')),
  });
  const server = await startProtocolServer({ models: repo.dir, ...options });
  return { ...server, removeRepository: repo.remove };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- dialect bodies vary by route
  json: any;
}

export async function send(url: string, body: string | Uint8Array, headers: Record<string, string> = {}, method = 'POST'): Promise<Reply> {
  const response = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, ...(method === 'GET' ? {} : { body }) });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The same model through the OIP route, for "same numbers" checks. */
export async function oip(url: string, model: string, inputs: object[]): Promise<Record<string, unknown[]>> {
  const reply = await send(`${url}/v2/models/${model}/infer`, JSON.stringify({ inputs }));
  if (reply.status !== 200) throw new Error(reply.text);
  return Object.fromEntries((reply.json.outputs as Array<{ name: string; data: unknown[] }>).map((o) => [o.name, o.data]));
}
