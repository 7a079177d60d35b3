import type { Command } from 'commander';
import { formatAge } from '../config/duration.js';
import { rolloutConfigSchema, trafficConfigSchema, type RolloutConfig, type TrafficConfigInput } from '../config/traffic-config.js';
import { SlipwayClientError } from '../client/client-error.js';
import { SlipwayHttpClient, type RolloutStatus, type TrafficStatus } from '../client/http-client.js';
import { followRollout, startRollout, type RolloutTarget } from '../client/rollout.js';
import type { AnalysisSummary } from '../router/canary-analysis.js';
import type { RolloutDecision } from '../router/rollout-store.js';

export interface ServerFlags {
  url: string;
  token?: string;
  json?: boolean;
}

export interface StartFlags extends ServerFlags {
  to: string;
  from?: string;
  steps?: string;
  interval?: string;
  stepDeadline?: string;
  minRequests?: string;
  minSuccessRate?: string;
  maxP99Ratio?: string;
  maxP99Ms?: string;
  significance?: string;
  shadow?: string;
  minAgreement?: string;
  wait?: boolean;
}

interface TrafficFlags extends ServerFlags {
  stable?: string;
  shadow?: string;
  compare?: string;
  clear?: boolean;
}

/** Exit codes: 0 done (promoted, or the command's change made), 1 rolled back or the server refused, 2 a bad option. */
export class UsageError extends Error {}

function serverOptions(command: Command): Command {
  return command
    .option('-u, --url <url>', 'the server (env SLIPWAY_URL)', process.env.SLIPWAY_URL ?? 'http://127.0.0.1:8000')
    .option('--token <token>', 'the admin token (env SLIPWAY_ADMIN_TOKEN)')
    .option('--json', 'print the status as JSON');
}

export function targetOf(flags: ServerFlags): RolloutTarget {
  const token = flags.token ?? process.env.SLIPWAY_ADMIN_TOKEN;
  return { url: flags.url, ...(token !== undefined && token !== '' && { token }) };
}

function clientOf(flags: ServerFlags): SlipwayHttpClient {
  const { token } = targetOf(flags);
  return new SlipwayHttpClient(flags.url, { retries: 2, ...(token !== undefined && { adminToken: token, apiKey: token }) });
}

/** Runs a command's body and turns client errors into a message and an exit code. */
export function action<A extends unknown[]>(run: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await run(...args);
      if (typeof code === 'number' && code !== 0) process.exitCode = code;
    } catch (error) {
      if (error instanceof UsageError) {
        process.stderr.write(`slipway rollout: ${error.message}\n`);
        process.exitCode = 2;
      } else if (error instanceof SlipwayClientError) {
        process.stderr.write(`slipway rollout: ${error.message}${error.status !== undefined ? ` (HTTP ${error.status} ${error.code})` : ''}\n`);
        process.exitCode = 1;
      } else throw error;
    }
  };
}

const FLAG_OF: Record<string, string> = {
  to: '--to',
  from: '--from',
  steps: '--steps',
  interval: '--interval',
  step_deadline: '--step-deadline',
  min_requests: '--min-requests',
  min_success_rate: '--min-success-rate',
  max_p99_ratio: '--max-p99-ratio',
  max_p99_ms: '--max-p99-ms',
  significance: '--significance',
  shadow_percent: '--shadow',
  min_agreement: '--min-agreement',
};

function number(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag} ${text}: expected a number`);
  return value;
}

/** The rollout body from the flags, checked here so mistakes name the flag. */
export function rolloutFromFlags(flags: StartFlags): RolloutConfig {
  const steps = flags.steps?.split(',').map((s) => number('--steps', s)!);
  const raw: Record<string, unknown> = {
    to: flags.to,
    from: flags.from,
    steps,
    interval: flags.interval,
    step_deadline: flags.stepDeadline,
    min_requests: number('--min-requests', flags.minRequests),
    min_success_rate: number('--min-success-rate', flags.minSuccessRate),
    max_p99_ratio: number('--max-p99-ratio', flags.maxP99Ratio),
    max_p99_ms: number('--max-p99-ms', flags.maxP99Ms),
    significance: number('--significance', flags.significance),
    shadow_percent: number('--shadow', flags.shadow),
    min_agreement: number('--min-agreement', flags.minAgreement),
  };
  const body = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as RolloutConfig;
  const checked = rolloutConfigSchema.safeParse(body);
  if (!checked.success) {
    throw new UsageError(checked.error.issues.map((i) => `${FLAG_OF[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join('; '));
  }
  return body;
}

/** `1=90 2=10` (or `1=90,2=10`) as traffic weights. */
export function weightsFromArgs(args: string[]): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of args.flatMap((a) => a.split(',')).filter((p) => p !== '')) {
    const match = /^([1-9][0-9]*)=([0-9]+(?:\.[0-9]+)?)$/.exec(part.trim());
    if (match === null) throw new UsageError(`'${part}': expected VERSION=WEIGHT, e.g. 1=90 2=10`);
    weights[match[1]!] = Number(match[2]);
  }
  return weights;
}

export function registerRollout(program: Command): void {
  const rollout = program.command('rollout').description('traffic splits and canary rollouts on a running server (automatic analysis and rollback)');

  serverOptions(
    rollout
      .command('start')
      .description('roll out a version: its share grows step by step while its errors and latency stay within bounds; a breach rolls back at once')
      .argument('<model>', 'the model')
      .requiredOption('--to <version>', 'the candidate version (loaded and READY beside the stable one)')
      .option('--from <version>', 'the stable version to compare with (default: the one taking the most traffic)')
      .option('--steps <percents>', "the candidate's share at each step (default 10,25,50,100)")
      .option('--interval <time>', 'how long each step runs before it is judged (default 1m)')
      .option('--step-deadline <time>', 'how long a step may wait for enough requests before rolling back (default 5 intervals)')
      .option('--min-requests <n>', 'requests each version needs in a window to be judged (default 100)')
      .option('--min-success-rate <r>', 'the candidate must succeed at least this often, 0..1 (default 0.99)')
      .option('--max-p99-ratio <x>', "the candidate's p99 latency may be at most this many times the stable's (default 1.5)")
      .option('--max-p99-ms <ms>', 'and at most this many milliseconds')
      .option('--significance <p>', 'a regression must be significant at this level (default 0.05)')
      .option('--shadow <percent>', "also copy this share of the stable's requests to the candidate and compare the answers")
      .option('--min-agreement <r>', 'with --shadow: the share of answers that must agree (default 0.99)')
      .option('--wait', 'follow the rollout, printing each decision, until it is promoted (exit 0) or rolled back (exit 1)'),
  ).action(
    action(async (model: string, flags: StartFlags) => {
      const target = targetOf(flags);
      const status = await startRollout(target, model, rolloutFromFlags(flags));
      if (!flags.wait) {
        print(flags, status);
        return 0;
      }
      const id = status.rollout!.id;
      const done = await followRollout(target, model, id, {
        onDecision: (decision) => {
          if (!flags.json) process.stdout.write(`${formatDecision(decision)}\n`);
        },
      });
      if (flags.json) process.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
      else process.stdout.write(`${formatStatus(done)}\n`);
      return done.rollout?.state === 'promoted' ? 0 : 1;
    }),
  );

  serverOptions(rollout.command('status').description('the current (or last) rollout, its decisions and the traffic split').argument('<model>', 'the model')).action(
    action(async (model: string, flags: ServerFlags) => {
      print(flags, await clientOf(flags).rolloutStatus(model));
    }),
  );

  const actions = [
    ['rollback', 'every request to the stable version now; a rollout in progress ends rolled back (its candidate stays loaded)'],
    ['promote', "give the rollout's candidate every request now, skipping the remaining steps"],
  ] as const;
  for (const [name, description] of actions) {
    serverOptions(rollout.command(name).description(description).argument('<model>', 'the model').option('--reason <text>', 'why (kept with the decision)')).action(
      action(async (model: string, flags: ServerFlags & { reason?: string }) => {
        const client = clientOf(flags);
        print(flags, await (name === 'rollback' ? client.rollback(model, flags.reason) : client.promote(model, flags.reason)));
      }),
    );
  }

  serverOptions(
    rollout
      .command('traffic')
      .description('show or set the traffic split by hand: `slipway rollout traffic digits 1=90 2=10`')
      .argument('<model>', 'the model')
      .argument('[weights...]', 'VERSION=WEIGHT pairs (relative weights of READY versions)')
      .option('--stable <version>', 'the version a rollback returns to (default: the heaviest)')
      .option('--shadow <version:percent>', 'also copy this share of requests to a version, e.g. 3:20')
      .option('--compare <mode>', 'with --shadow: auto, top1 or max_abs_diff')
      .option('--clear', "forget the split set here (config.yaml's applies again)"),
  ).action(
    action(async (model: string, args: string[], flags: TrafficFlags) => {
      const client = clientOf(flags);
      if (flags.clear) return void printTraffic(flags, await client.clearTraffic(model));
      if (args.length === 0) return void printTraffic(flags, await client.traffic(model));
      const policy: TrafficConfigInput = { weights: weightsFromArgs(args) };
      if (flags.stable !== undefined) policy.stable = flags.stable;
      if (flags.shadow !== undefined) {
        const match = /^([1-9][0-9]*):([0-9]+(?:\.[0-9]+)?)$/.exec(flags.shadow);
        if (match === null) throw new UsageError(`--shadow ${flags.shadow}: expected VERSION:PERCENT, e.g. 3:20`);
        policy.shadow = { version: Number(match[1]), percent: Number(match[2]), ...(flags.compare !== undefined && { compare: flags.compare as 'auto' }) };
      }
      const checked = trafficConfigSchema.safeParse(policy);
      if (!checked.success) throw new UsageError(checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      printTraffic(flags, await client.setTraffic(model, policy));
    }),
  );
}

function print(flags: ServerFlags, status: RolloutStatus): void {
  process.stdout.write(flags.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status)}\n`);
}

function printTraffic(flags: ServerFlags, reply: { model: string; revision: number; traffic: TrafficStatus }): void {
  process.stdout.write(flags.json ? `${JSON.stringify(reply, null, 2)}\n` : `${reply.model}: ${formatTraffic(reply.traffic)}\n`);
}

/** `traffic (rollout): v1 75% · v2 25%, stable v1, shadow v2 10%`. */
export function formatTraffic(traffic: TrafficStatus): string {
  const versions = traffic.versions.map((v) => `v${v.version} ${v.percent}%${v.state === 'READY' ? '' : ` (${v.state})`}`).join(' · ');
  const shadow = traffic.shadow === null ? '' : `, shadow v${traffic.shadow.version} ${traffic.shadow.percent}%`;
  return `traffic (${traffic.source}): ${versions}${traffic.stable === null ? '' : `, stable v${traffic.stable}`}${shadow}`;
}

function formatAnalysis(a: AnalysisSummary): string {
  const side = (name: string, v: AnalysisSummary['stable']) =>
    `${name} ${v.requests} req, ${v.errors} err${v.p99_ms === null ? '' : `, p99 ${v.p99_ms.toFixed(2)} ms`}`;
  return `[${side('candidate', a.candidate)}; ${side('stable', a.stable)}${a.agreement === null ? '' : `; agreement ${(a.agreement * 100).toFixed(1)}%`}]`;
}

export function formatDecision(d: RolloutDecision): string {
  const time = d.at.slice(11, 19);
  return `  ${time}  ${d.decision.padEnd(8)} ${`${d.percent}%`.padStart(4)}  ${d.reason}${d.analysis === undefined ? '' : `  ${formatAnalysis(d.analysis)}`}`;
}

/** The status for people: the rollout's state and step, the split, and its decisions. */
export function formatStatus(status: RolloutStatus): string {
  const lines: string[] = [];
  const r = status.rollout;
  if (r === null) lines.push(`${status.model}: no rollout yet`);
  else {
    const age = formatAge(Date.now() - Date.parse(r.started_at));
    const where = r.state === 'progressing' ? `step ${r.step + 1}/${r.spec.steps.filter((s) => s < 100).length} at ${r.percent}%` : r.state === 'promoted' ? 'promoted' : 'rolled back';
    lines.push(`${status.model}: rollout v${r.spec.from} → v${r.spec.to} ${r.state === 'progressing' ? 'progressing, ' : ''}${where} (started ${age} ago)`);
    if (r.reason !== null) lines.push(`  why: ${r.reason}`);
  }
  lines.push(`  ${formatTraffic(status.traffic)}`);
  if (r !== null && r.decisions.length > 0) {
    lines.push('  decisions:');
    for (const d of r.decisions.slice(-12)) lines.push(`  ${formatDecision(d)}`);
  }
  return lines.join('\n');
}
