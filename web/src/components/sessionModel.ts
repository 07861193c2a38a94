// What the console knows about geo-replication sessions beyond their JSON: which actions the
// engine accepts in which status (mirrors src/model/session_lifecycle.cc CheckSessionAction;
// every action, verify included, applies to gluster and directory sessions alike), and the
// summaries shown for a session's nodes.
import type { NodeStatus, Role, Session } from '../api';

export type SessionActionName =
  | 'start' | 'stop' | 'pause' | 'resume' | 'remove' | 'config' | 'checkpoint' | 'verify';

export const ACTION_LABEL: Record<SessionActionName, string> = {
  start: 'Start', stop: 'Stop', pause: 'Pause', resume: 'Resume', remove: 'Remove',
  config: 'Config', checkpoint: 'Set checkpoint', verify: 'Verify',
};

export const ACTION_ORDER: SessionActionName[] = [
  'start', 'stop', 'pause', 'resume', 'remove', 'config', 'checkpoint', 'verify',
];

// The role each action needs (src/api/routes.cc). Config opens for everyone: it shows the
// values, and each change needs its own role (CONFIG_ROLE).
export const ACTION_ROLE: Record<SessionActionName, Role> = {
  start: 'operator', stop: 'operator', pause: 'operator', resume: 'operator', remove: 'admin',
  config: 'viewer', checkpoint: 'operator', verify: 'operator',
};

// Setting an option needs admin, but the checkpoint (a moment, set as operators run sessions);
// resetting any option to its default needs admin.
export function configRole(key: string): Role {
  return key === 'checkpoint' ? 'operator' : 'admin';
}
export const CONFIG_RESET_ROLE: Role = 'admin';

// 'ok': the engine accepts it; 'force': only with force (the dialog requires the Force box);
// 'no': refused (reason says why).
export interface Availability { mode: 'ok' | 'force' | 'no'; reason?: string }

// Created and Stopped are the "not started" statuses of the engine.
export function notStarted(status: string): boolean {
  return status === 'Created' || status === 'Stopped';
}

export function availability(action: SessionActionName, s: Session): Availability {
  const st = s.status || 'Unknown';
  const ns = notStarted(st);
  switch (action) {
    case 'start':
      if (ns) return { mode: 'ok' };
      if (st === 'Paused') return { mode: 'no', reason: `The session is Paused: resume it instead.` };
      return { mode: 'force', reason: `The session is ${st}: it is already started. Starting it again with Force restarts its workers.` };
    case 'stop':
      if (!ns) return { mode: 'ok' };
      return { mode: 'no', reason: `The session is ${st}: it is not started.` };
    case 'pause':
      if (st === 'Paused') return { mode: 'no', reason: 'The session is already paused.' };
      if (ns) return { mode: 'no', reason: `The session is ${st}: it is not started.` };
      return { mode: 'ok' };
    case 'resume':
      if (st === 'Paused') return { mode: 'ok' };
      return { mode: 'no', reason: `The session is ${st}: it is not paused.` };
    case 'remove':
      if (ns) return { mode: 'ok' };
      return { mode: 'force', reason: `The session is ${st}: stop it before removing it, or remove it with Force.` };
    case 'verify':
    case 'config':
    case 'checkpoint':
      return { mode: 'ok' };
  }
}

// A pending count or failures: a dash where gluster does not know it (N/A), never a made-up 0.
export function countText(n: number | null | undefined): string {
  return n === null || n === undefined ? '\u2014' : String(n);
}

// Crawl status over nodes: the one status they share, or each with its count.
export function crawlSummary(nodes: NodeStatus[] | undefined): string {
  const counts = new Map<string, number>();
  for (const n of nodes ?? []) {
    if (!n.crawl_status || n.crawl_status === 'N/A') continue;
    counts.set(n.crawl_status, (counts.get(n.crawl_status) ?? 0) + 1);
  }
  if (counts.size === 0) return 'N/A';
  if (counts.size === 1) return [...counts.keys()][0];
  return [...counts.entries()].map(([k, v]) => `${k} (${v})`).join(', ');
}

// The oldest last-synced time of the Active nodes: everything before it is on the destination.
export function lastSynced(nodes: NodeStatus[] | undefined): string | null {
  let min: string | null = null;
  let minT = Infinity;
  for (const n of nodes ?? []) {
    if (n.status !== 'Active' || !n.last_synced) continue;
    const t = new Date(n.last_synced).getTime();
    if (t < minT) {
      minT = t;
      min = n.last_synced;
    }
  }
  return min;
}

// Unknown figures stay unknown (null): never 0.
export function maxLag(nodes: NodeStatus[] | undefined): number | null {
  const known = (nodes ?? []).map((n) => n.lag_seconds).filter((v): v is number => typeof v === 'number');
  return known.length === 0 ? null : Math.max(...known);
}

export function totalThroughput(nodes: NodeStatus[] | undefined): number | null {
  const known = (nodes ?? []).map((n) => n.throughput_bytes_per_second).filter((v): v is number => typeof v === 'number');
  return known.length === 0 ? null : known.reduce((a, v) => a + v, 0);
}

// The session's lag and throughput as the engine measures them end to end (a gluster
// session's heartbeat), else from its nodes.
export function sessionLag(s: Session): number | null {
  return s.lag_seconds !== undefined ? s.lag_seconds : maxLag(s.nodes);
}
export function sessionThroughput(s: Session): number | null {
  return s.throughput_bytes_per_second !== undefined ? s.throughput_bytes_per_second : totalThroughput(s.nodes);
}

// Replaces (or adds) a session in a list; keeps the order.
export function mergeSession(list: Session[], s: Session): Session[] {
  const i = list.findIndex((x) => x.id === s.id);
  if (i < 0) return [...list, s];
  const next = list.slice();
  // A list entry without nodes keeps the nodes it had.
  next[i] = { ...s, nodes: s.nodes ?? list[i].nodes, warnings: s.warnings ?? list[i].warnings };
  return next;
}

// The pieces of a live "session" event: a session with its nodes.
export function asSession(data: unknown): Session | null {
  if (!data || typeof data !== 'object') return null;
  const s = data as Session;
  return typeof s.id === 'string' && typeof s.status === 'string' ? s : null;
}

export function removedId(data: unknown): string | null {
  if (!data || typeof data !== 'object') return null;
  const id = (data as { id?: unknown }).id;
  return typeof id === 'string' ? id : null;
}
