#!/usr/bin/env node
import { Command } from 'commander';
import { isServingError } from '../errors/serving-error.js';
import { SLIPWAY_VERSION } from '../version.js';

// Each command's module (and what it imports: fastify, gRPC, pg, …) is loaded only when that
// command runs, so `slipway serve` starts without the batch, build and bench code; help loads all.
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  serve: async () => (await import('./serve.js')).registerServe,
  batch: async () => (await import('./batch.js')).registerBatch,
  build: async () => (await import('./build.js')).registerBuild,
  bench: async () => (await import('./bench.js')).registerBench,
  optimize: async () => (await import('./optimize.js')).registerOptimize,
  rollout: async () => (await import('./rollout.js')).registerRollout,
  edge: async () => (await import('./edge.js')).registerEdge,
};

const program = new Command()
  .name('slipway')
  .description('Turn a trained ONNX model into an ML-powered product.')
  .version(SLIPWAY_VERSION);
const asked = process.argv[2];
const wanted = asked !== undefined && asked in COMMANDS ? [asked] : Object.keys(COMMANDS);
for (const name of wanted) (await COMMANDS[name]!())(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Configuration mistakes are the user's to fix: print the message alone, not a stack.
  process.stderr.write(`slipway: ${isServingError(error) ? error.message : (error as Error).stack ?? String(error)}\n`);
  process.exit(isServingError(error) ? 2 : 1);
}
