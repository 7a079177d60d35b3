import { readFileSync } from 'node:fs';

/** Descriptors kept back from the connection limit: model files, databases, workers' pipes, logs. */
const RESERVED_DESCRIPTORS = 256;
const GIB = 1024 ** 3;

/** This process's soft limit on open files (Linux `/proc/self/limits`), or undefined where unknown. */
export function openFilesLimit(limits: string | undefined): number | undefined {
  const match = limits === undefined ? null : /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (match === null || match[1] === 'unlimited') return undefined;
  return Number(match[1]);
}

/** The container's memory limit (cgroup v2 `memory.max`, else v1), or undefined when there is none. */
export function containerMemoryLimitBytes(v2: string | undefined, v1: string | undefined): number | undefined {
  for (const text of [v2, v1]) {
    const value = text?.trim();
    if (value === undefined || !/^\d+$/.test(value)) continue;
    const bytes = Number(value);
    // cgroup v1 says "no limit" with a number near 2^63.
    if (bytes > 0 && bytes < 2 ** 60) return bytes;
  }
  return undefined;
}

/**
 * Connections the HTTP server keeps open at most: enough that every descriptor beyond those the
 * process needs for itself can be a client, so a flood of sockets is refused at accept instead of
 * failing the server's own file opens (EMFILE). 4096 where the limit cannot be read.
 */
export function maxConnectionsFor(limit: number | undefined): number {
  if (limit === undefined) return 4096;
  return Math.max(64, limit - RESERVED_DESCRIPTORS);
}

/**
 * The in-flight request budget: a quarter of the container's memory limit (a request's peak is a
 * few times its body: the body, its decoded tensors, the batch and the outputs), at most 1 GiB.
 */
export function inflightBytesFor(limit: number | undefined): number {
  return limit === undefined ? GIB : Math.min(GIB, Math.floor(limit / 4));
}

/** `maxConnectionsFor` this process's open-files limit. */
export function defaultMaxConnections(): number {
  return maxConnectionsFor(openFilesLimit(readOrUndefined('/proc/self/limits')));
}

/** `inflightBytesFor` this container's memory limit. */
export function defaultInflightBytes(): number {
  return inflightBytesFor(containerMemoryLimitBytes(readOrUndefined('/sys/fs/cgroup/memory.max'), readOrUndefined('/sys/fs/cgroup/memory/memory.limit_in_bytes')));
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
