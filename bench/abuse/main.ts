/**
 * `npm run bench:abuse -- <scenario> [options]`: the abuse scenarios of issue 18, each against a
 * server in its own process. Scenarios: large-bodies, overload, slow-clients, sigterm, soak.
 */
import { runLargeBodies } from './large-bodies.js';

const [scenario, ...rest] = process.argv.slice(2);
const scenarios: Record<string, (args: string[]) => Promise<unknown>> = {
  'large-bodies': (args) => runLargeBodies(args),
};
const run = scenario === undefined ? undefined : scenarios[scenario];
if (run === undefined) {
  console.error(`usage: npm run bench:abuse -- <${Object.keys(scenarios).join('|')}> [serve options…]`);
  process.exit(2);
}
await run(rest);
process.exit(0);
