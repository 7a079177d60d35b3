import { createServer } from 'node:net';

/**
 * A TCP port that was free a moment ago, for programs that cannot listen on port 0 and report it
 * (redis-server, a container on the host network). Another process could take it in between; the
 * window is small.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}
