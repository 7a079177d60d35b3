import type { VersionPolicy } from '../config/model-config.js';

/** The versions a policy serves out of those present on disk (Triton's semantics), ascending. */
export function selectVersions(policy: VersionPolicy, available: readonly number[]): number[] {
  const sorted = [...available].sort((a, b) => a - b);
  switch (policy.kind) {
    case 'all':
      return sorted;
    case 'latest':
      return sorted.slice(Math.max(0, sorted.length - policy.numVersions));
    case 'specific':
      return sorted.filter((v) => policy.versions.includes(v));
  }
}
