import { Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';

/**
 * Stops taking new connections but leaves the open ones alone. `http.Server#close` would also close
 * every idle keep-alive connection at once, and a client that is just sending its next request on
 * one gets a reset; the plain net close does not. Under `node:cluster` it also takes this process
 * out of the primary's round robin, so new connections go to the other processes.
 */
export function stopAccepting(server: HttpServer): void {
  if (server.listening) Server.prototype.close.call(server);
}

/**
 * Waits until the clients have left (every answer sent while draining carries `connection: close`,
 * so busy connections end after their next answer), or until `timeoutMs` passes; whatever is still
 * open then is idle and is closed by the server's own close.
 */
export async function waitForConnections(server: HttpServer, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const open = await new Promise<number>((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
    if (open === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The HTTP half of a graceful stop, after the drain delay: no new connections; the busy ones end
 * after their answer (each carries `connection: close` once the server is shutting down, so the
 * client never sends on a connection the server is closing); after `timeoutMs` the connections
 * that stayed idle through all of it are closed with a FIN. The requests still running then are
 * left to `app.close()`, which waits for them.
 */
export async function drainHttp(server: HttpServer, timeoutMs: number): Promise<void> {
  stopAccepting(server);
  await waitForConnections(server, timeoutMs);
  server.closeIdleConnections();
}
