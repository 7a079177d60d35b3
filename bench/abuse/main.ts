/**
 * `npm run bench:abuse -- <scenario> [options]`: the abuse scenarios of issue 18, each against a
 * server in its own process (the load generator never shares its loop). Scenarios: large-bodies,
 * overload, slow-clients, sigterm, soak; each file's header lists its options.
 */
import { runLargeBodies } from './large-bodies.js';
import { runOverload } from './overload.js';
import { runSigterm } from './sigterm.js';
import { runSlowClients } from './slow-clients.js';
import { runSoak } from './soak.js';

const [scenario, ...rest] = process.argv.slice(2);
const scenarios: Record<string, (args: string[]) => Promise<unknown>> = {
  'large-bodies': (args) => runLargeBodies(args),
  overload: (args) => runOverload(args),
  'slow-clients': (args) => runSlowClients(args),
  sigterm: (args) => runSigterm(args),
  soak: (args) => runSoak(args),
};
const run = scenario === undefined ? undefined : scenarios[scenario];
if (run === undefined) {
  console.error(`usage: npm run bench:abuse -- <${Object.keys(scenarios).join('|')}> [options…]`);
  process.exit(2);
}
await run(rest);
process.exit(0);
