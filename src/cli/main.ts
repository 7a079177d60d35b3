#!/usr/bin/env node
import { Command } from 'commander';
import { isServingError } from '../errors/serving-error.js';
import { SLIPWAY_VERSION } from '../version.js';
import { registerBench } from './bench.js';
import { registerBuild } from './build.js';
import { registerEdge } from './edge.js';
import { registerServe } from './serve.js';
import { registerBatch } from './batch.js';
import { registerOptimize } from './optimize.js';
import { registerRollout } from './rollout.js';

const program = new Command()
  .name('slipway')
  .description('Turn a trained ONNX model into an ML-powered product.')
  .version(SLIPWAY_VERSION);
registerServe(program);
registerBatch(program);
registerBuild(program);
registerBench(program);
registerOptimize(program);
registerRollout(program);
registerEdge(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // Configuration mistakes are the user's to fix: print the message alone, not a stack.
  process.stderr.write(`slipway: ${isServingError(error) ? error.message : (error as Error).stack ?? String(error)}\n`);
  process.exit(isServingError(error) ? 2 : 1);
}
