import type { AddressInfo } from 'node:net';
import { createHttpServer } from '../../src/server/http-server.js';
import { Slipway, type SlipwayOptions } from '../../src/slipway.js';

export interface TestServer {
  url: string;
  slipway: Slipway;
  close: () => Promise<void>;
}

/** A real Slipway HTTP server on an ephemeral loopback port. */
export async function startTestServer(options: SlipwayOptions & { bodyLimitBytes?: number }): Promise<TestServer> {
  const slipway = await Slipway.open({ cores: 2, ...options });
  const app = createHttpServer(slipway, options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    slipway,
    close: async () => {
      await app.close();
      await slipway.close();
    },
  };
}

export interface JsonReply {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON shapes
}

/** POSTs `body` (an object is JSON-encoded; a string is sent as is) and parses the JSON answer. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

export async function get(url: string): Promise<JsonReply> {
  const response = await fetch(url);
  return { status: response.status, headers: response.headers, body: await response.json() };
}
