// Scenario (d): the server tutorials teach. Fastify + onnxruntime-node, one session.run per request
// on the main thread, JSON in and out with the framework's defaults. Usage: naive-server.js MODEL.onnx
import Fastify from 'fastify';
import * as ort from 'onnxruntime-node';

const modelPath = process.argv[2]!;
const session = await ort.InferenceSession.create(modelPath);
const app = Fastify({ bodyLimit: 256 * 1024 * 1024 });

interface Body {
  inputs: Array<{ name: string; shape: number[]; data: unknown[] }>;
}

app.post('/v2/models/:model/infer', async (request) => {
  const body = request.body as Body;
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of body.inputs) {
    feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data.flat(Infinity) as number[]), input.shape);
  }
  const results = await session.run(feeds);
  return {
    model_name: (request.params as { model: string }).model,
    model_version: '1',
    outputs: Object.entries(results).map(([name, t]) => ({ name, datatype: 'FP32', shape: t.dims, data: Array.from(t.data as Float32Array) })),
  };
});
app.get('/v2/health/live', async () => ({ live: true }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address() as { port: number };
process.stdout.write(`listening on http://127.0.0.1:${address.port}\n`);
