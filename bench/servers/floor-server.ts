// Scenario (e): the HTTP floor. A bare Fastify route that parses the JSON body (as any route would)
// and answers a canned response of the same size as the real one. Usage: floor-server.js RESPONSE.json
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const canned = readFileSync(process.argv[2]!);
const app = Fastify({ bodyLimit: 256 * 1024 * 1024 });
app.post('/v2/models/:model/infer', async (_request, reply) => reply.type('application/json').send(canned));
app.get('/v2/health/live', async () => ({ live: true }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address() as { port: number };
process.stdout.write(`listening on http://127.0.0.1:${address.port}\n`);
