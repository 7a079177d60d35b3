import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectivityState, credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { Slipway } from '../../../src/slipway.js';
import { GrpcServer } from '../../../src/protocol/grpc/grpc-server.js';
import { loadServices } from '../../../src/protocol/grpc/proto.js';
import { TEST_MODELS } from '../../helpers/paths.js';

function serverLive(client: Client): Promise<unknown> {
  return new Promise((resolve, reject) =>
    (client as unknown as { ServerLive: (r: object, m: Metadata, cb: (e: ServiceError | null, v: unknown) => void) => void }).ServerLive({}, new Metadata(), (error, value) =>
      error ? reject(error) : resolve(value),
    ),
  );
}

test('a gRPC connection with no call for max_connection_idle is closed by the server (GOAWAY); the client reconnects on its next call', async () => {
  const slipway = await Slipway.open({ models: `${TEST_MODELS}/simple`, cores: 1 });
  const grpc = new GrpcServer(slipway, { maxConnectionIdleMs: 300 });
  const port = await grpc.listen('127.0.0.1', 0);
  const { inference } = loadServices();
  const client = new inference(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    assert.deepEqual(await serverLive(client), { live: true });
    const channel = client.getChannel();
    assert.equal(channel.getConnectivityState(false), connectivityState.READY);
    // The server's GOAWAY moves the channel out of READY; nothing on the client side would.
    await new Promise<void>((resolve, reject) =>
      channel.watchConnectivityState(connectivityState.READY, Date.now() + 30_000, (error) => (error ? reject(error) : resolve())),
    );
    assert.notEqual(channel.getConnectivityState(false), connectivityState.READY);
    assert.deepEqual(await serverLive(client), { live: true });
  } finally {
    client.close();
    await grpc.close();
    await slipway.close();
  }
});
