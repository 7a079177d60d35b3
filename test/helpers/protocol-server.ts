import type { AddressInfo } from 'node:net';
import { GrpcServer } from '../../src/protocol/grpc/grpc-server.js';
import { createHttpServer, type HttpServerOptions } from '../../src/server/http-server.js';
import { Slipway, type SlipwayOptions } from '../../src/slipway.js';

export interface ProtocolServer {
  url: string;
  /** host:port of the gRPC server. */
  grpcAddress: string;
  slipway: Slipway;
  close: () => Promise<void>;
}

/** A real Slipway with both its HTTP and gRPC servers on ephemeral loopback ports. */
export async function startProtocolServer(options: SlipwayOptions & HttpServerOptions): Promise<ProtocolServer> {
  const slipway = await Slipway.open({ cores: 2, ...options });
  const app = createHttpServer(slipway, options);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const grpc = new GrpcServer(slipway, {
    ...(options.adminToken !== undefined && { adminToken: options.adminToken }),
    ...(options.bodyLimitBytes !== undefined && { maxMessageBytes: options.bodyLimitBytes }),
  });
  const grpcPort = await grpc.listen('127.0.0.1', 0);
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    slipway,
    close: async () => {
      await Promise.all([app.close(), grpc.close(1000)]);
      await slipway.close();
    },
  };
}
