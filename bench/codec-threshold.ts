// Where should JSON decoding leave the main thread? Times inline decode against the codec-thread
// round trip for growing bodies, in one run. Usage: node dist/bench/codec-threshold.js
import { JsonCodec } from '../src/protocol/http/codec/json-codec.js';

const inline = new JsonCodec({ decodeThresholdBytes: Number.MAX_SAFE_INTEGER });
const threaded = new JsonCodec({ decodeThresholdBytes: 0, threads: 1 });

async function timeIt(fn: () => Promise<unknown>, rounds: number): Promise<number> {
  for (let i = 0; i < Math.min(rounds, 20); i++) await fn(); // warm up (JIT, thread start)
  const start = performance.now();
  for (let i = 0; i < rounds; i++) await fn();
  return ((performance.now() - start) / rounds) * 1000;
}

const rows = ['| body | inline decode µs (main thread busy) | codec thread round trip µs (main thread free) |', '|---|---|---|'];
for (const elements of [100, 1_000, 4_000, 16_000, 64_000, 256_000]) {
  const data = Array.from({ length: elements }, (_, i) => Math.fround(Math.sin(i)));
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [elements], data }] }));
  const rounds = Math.max(5, Math.round(2_000_000 / body.length));
  const a = await timeIt(() => inline.decode(body, 'm'), rounds);
  // The threaded path moves the body, so each round needs its own copy.
  const b = await timeIt(() => threaded.decode(Buffer.from(body), 'm'), rounds);
  rows.push(`| ${(body.length / 1024).toFixed(1)} KiB | ${a.toFixed(0)} | ${b.toFixed(0)} |`);
}
await threaded.close();
console.log(rows.join('\n'));
