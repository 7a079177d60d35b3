import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson, oipPath } from './api.js';
import { formatMs, formatTime } from './format.js';

/** What the panel reads of GET /v2/models/{m}/rollout (the server's RolloutStatus). */
interface VersionShare {
  version: number;
  state: string;
  weight: number;
  percent: number;
}

interface VersionSummary {
  requests: number;
  errors: number;
  p99_ms: number | null;
}

interface Analysis {
  candidate: VersionSummary;
  stable: VersionSummary;
  agreement: number | null;
}

interface Decision {
  at: string;
  decision: string;
  percent: number;
  reason: string;
  by: string;
}

interface RolloutStatus {
  traffic: {
    source: 'config' | 'admin' | 'rollout' | 'default';
    stable: number | null;
    versions: VersionShare[];
    shadow: { version: number; percent: number } | null;
  };
  rollout: null | {
    state: 'progressing' | 'promoted' | 'rolled_back';
    spec: { from: number; to: number; steps: number[] };
    step: number;
    percent: number;
    started_at: string;
    reason: string | null;
    decisions: Decision[];
  };
  live_analysis: Analysis | null;
}

const SOURCES: Record<RolloutStatus['traffic']['source'], string> = {
  default: 'the newest ready version takes every request',
  config: 'as config.yaml sets it',
  admin: 'set through the admin API',
  rollout: 'set by a rollout',
};

const STATES = { progressing: 'in progress', promoted: 'promoted', rolled_back: 'rolled back' } as const;

/** How often the panel refreshes while a rollout moves (its steps last seconds to minutes). */
const REFRESH_MS = 3000;

function side(name: string, v: VersionSummary): string {
  return `${name}: ${v.requests} requests, ${v.errors} failed${v.p99_ms === null ? '' : `, p99 ${formatMs(v.p99_ms)}`}`;
}

/**
 * A model's traffic split (each version's share of the requests that name no version) and its
 * rollout: state, step, the analysis of the window being judged, and the latest decisions. Reads
 * the public GET /v2/models/{m}/rollout; changing anything stays with the CLI and the admin API.
 */
export function RolloutPanel({ model }: { model: string }) {
  const [status, setStatus] = useState<RolloutStatus | undefined>(undefined);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const next = await getJson<RolloutStatus>(`${oipPath(model)}/rollout`);
        if (stopped) return;
        setStatus(next);
        if (next.rollout?.state === 'progressing') timer = setTimeout(load, REFRESH_MS);
      } catch (e) {
        // A model with no graph versions (a pipeline) has no traffic to show.
        if (!stopped && !(e instanceof ApiError && e.status === 404)) timer = setTimeout(load, REFRESH_MS * 5);
      }
    };
    void load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [model]);

  if (status === undefined) return null;
  const { traffic, rollout } = status;
  // One version and no policy: there is nothing to split.
  if (rollout === null && traffic.source === 'default' && traffic.versions.length < 2) return null;
  const judged = rollout?.spec.steps.filter((s) => s < 100).length ?? 0;
  return (
    <section class="rollout-panel" aria-label="Traffic and rollout">
      <figure class="topk">
        <figcaption>
          Traffic <span class="muted">({SOURCES[traffic.source]}{traffic.stable === null ? '' : `; stable: version ${traffic.stable}`})</span>
        </figcaption>
        <ol>
          {traffic.versions.map((v) => (
            <li key={v.version} class={v.version === traffic.stable ? 'top' : ''}>
              <span class="topk-label">v{v.version}</span>
              <span class="topk-bar" aria-hidden="true">
                <span style={{ width: `${Math.max(0.5, v.percent)}%` }} />
              </span>
              <span class="topk-value">
                {v.percent}%{v.state === 'READY' ? '' : ` ${v.state}`}
              </span>
            </li>
          ))}
        </ol>
        {traffic.shadow !== null && (
          <p class="muted">
            Shadow: {traffic.shadow.percent}% of requests are also sent to version {traffic.shadow.version}; its answers are compared, never returned.
          </p>
        )}
      </figure>
      {rollout !== null && (
        <div class="rollout">
          <p>
            <strong>
              Rollout of version {rollout.spec.to} against {rollout.spec.from}: {STATES[rollout.state]}
            </strong>
            {rollout.state === 'progressing' && ` — step ${rollout.step + 1} of ${judged}, at ${rollout.percent}%`}
            <span class="muted"> · started {formatTime(rollout.started_at)}</span>
          </p>
          {rollout.reason !== null && <p class={rollout.state === 'rolled_back' ? 'error' : 'muted'}>{rollout.reason}</p>}
          {status.live_analysis !== null && (
            <p class="muted">
              This window: {side('candidate', status.live_analysis.candidate)}; {side('stable', status.live_analysis.stable)}
              {status.live_analysis.agreement !== null && `; shadow agreement ${(status.live_analysis.agreement * 100).toFixed(1)}%`}
            </p>
          )}
          <ol class="muted" reversed>
            {rollout.decisions
              .slice(-5)
              .reverse()
              .map((d) => (
                <li key={`${d.at}-${d.decision}`}>
                  {formatTime(d.at)}: {d.decision} at {d.percent}% ({d.by}) — {d.reason}
                </li>
              ))}
          </ol>
        </div>
      )}
    </section>
  );
}
