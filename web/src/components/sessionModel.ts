// What the console knows about geo-replication sessions beyond their JSON: the labels, order
// and roles of the actions it offers, what the engine's allowed_actions mean for each (the
// engine decides which actions a session's status allows: model/session_lifecycle.h), and the
// summaries shown for a session's nodes.
import type { NodeStatus, Role, Session, SessionActionAvailability, SessionStatus } from '../api';

export type SessionActionName =
  | 'start' | 'stop' | 'pause' | 'resume' | 'remove' | 'config' | 'checkpoint' | 'verify';

export const ACTION_LABEL: Record<SessionActionName, string> = {
  start: 'Start', stop: 'Stop', pause: 'Pause', resume: 'Resume', remove: 'Remove',
  config: 'Config', checkpoint: 'Set checkpoint', verify: 'Verify',
};

export const ACTION_ORDER: SessionActionName[] = [
  'start', 'stop', 'pause', 'resume', 'remove', 'config', 'checkpoint', 'verify',
];

// The role each action needs (the route table, src/api/routes_sessions.cc). Config opens for everyone: it shows the
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

// The engine's word for each console action that is a session action (remove is its delete).
const ENGINE_ACTION: Partial<Record<SessionActionName, SessionActionAvailability['action']>> = {
  start: 'start', stop: 'stop', pause: 'pause', resume: 'resume', remove: 'delete',
};

// The actions the console offers with Force where the engine accepts them only so: a restart of
// a started session's workers, the removal of a session that is not stopped. (Stopping a
// session that is not started does nothing a user needs.)
const FORCE_OFFERED: SessionActionName[] = ['start', 'remove'];

// What the engine's allowed_actions say of `action` for this session; config, checkpoint and
// verify are not session actions and are always offered (each checks itself).
export function availability(action: SessionActionName, s: Session): Availability {
  const engineAction = ENGINE_ACTION[action];
  if (!engineAction) return { mode: 'ok' };
  const said = (s.allowed_actions ?? []).find((a) => a.action === engineAction);
  if (!said) return { mode: 'no', reason: 'The engine did not say whether this action is allowed now.' };
  if (said.mode === 'ok') return { mode: 'ok' };
  const why = said.reason ?? '';
  const reason = why && `${why.charAt(0).toUpperCase()}${why.slice(1)}.`;
  return { mode: said.mode === 'force' && FORCE_OFFERED.includes(action) ? 'force' : 'no', reason };
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

// Every change before it is applied: the oldest of the replica sets' (a set's: the newest of
// its nodes'); null when a set has none -- the engine's rule (model/session_figures.h), for an
// engine that does not send the session's own.
export function lastSynced(nodes: NodeStatus[] | undefined): string | null {
  const sets = new Map<number, { t: number; iso: string | null }>();
  for (const n of nodes ?? []) {
    const t = n.last_synced ? new Date(n.last_synced).getTime() : 0;
    const cur = sets.get(n.set_index) ?? { t: 0, iso: null };
    if (t > cur.t) sets.set(n.set_index, { t, iso: n.last_synced });
    else sets.set(n.set_index, cur);
  }
  let oldest: { t: number; iso: string | null } | null = null;
  for (const s of sets.values()) {
    if (!s.iso) return null;
    if (!oldest || s.t < oldest.t) oldest = s;
  }
  return oldest?.iso ?? null;
}

// The session's last synced as the engine aggregates it (the same rule as its node rows).
export function sessionLastSynced(s: Session): string | null {
  return s.last_synced !== undefined ? s.last_synced : lastSynced(s.nodes);
}

// The session's checkpoint from the nodes that replicate (not Passive standbys): when it was
// set, whether every one of them has completed it, and when the last did.
export interface CheckpointState { time: string; completed: boolean; completedAt: string | null }
export function checkpointState(nodes: NodeStatus[] | undefined): CheckpointState | null {
  const with_ = (nodes ?? []).filter((n) => n.status !== 'Passive' && n.checkpoint_time);
  if (with_.length === 0) return null;
  const completed = with_.every((n) => n.checkpoint_completed);
  let completedAt: string | null = null;
  if (completed) {
    for (const n of with_)
      if (n.checkpoint_completion_time && (!completedAt || n.checkpoint_completion_time > completedAt))
        completedAt = n.checkpoint_completion_time;
  }
  return { time: with_[0].checkpoint_time ?? '', completed, completedAt };
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

// Session statuses, worst first: what an admin must look at comes first in every count, sort
// and "worst status" column. Typed by the engine's enum, so a new status fails the type check
// until it has its place here.
const STATUS_RANK: Record<SessionStatus, number> = {
  Faulty: 0, 'Partial faulty': 1, Unknown: 2, Stopped: 3, Paused: 4, Initializing: 5, Created: 6, Active: 7,
};
export const STATUSES_WORST_FIRST: SessionStatus[] = (Object.keys(STATUS_RANK) as SessionStatus[])
  .sort((a, b) => STATUS_RANK[a] - STATUS_RANK[b]);

export function statusRank(s: SessionStatus): number {
  return STATUS_RANK[s] ?? STATUS_RANK.Unknown;
}

export function isSessionStatus(v: string | null | undefined): v is SessionStatus {
  return !!v && v in STATUS_RANK;
}

// The worst status among sessions; null when there are none.
export function worstStatus(sessions: Session[]): SessionStatus | null {
  let worst: SessionStatus | null = null;
  for (const s of sessions) if (worst === null || statusRank(s.status) < statusRank(worst)) worst = s.status;
  return worst;
}

// The lifecycle actions offered on several sessions at once.
export type BulkActionName = 'start' | 'stop' | 'pause' | 'resume';
export const BULK_ACTIONS: BulkActionName[] = ['start', 'stop', 'pause', 'resume'];

// Which of the selected sessions the engine accepts `action` for as they are (never with Force:
// a restart or a stop of what is not started is a one-session decision), and why the others are
// left out.
export interface BulkPlan { targets: Session[]; skipped: { session: Session; reason: string }[] }
export function bulkPlan(action: BulkActionName, sessions: Session[]): BulkPlan {
  const plan: BulkPlan = { targets: [], skipped: [] };
  for (const s of sessions) {
    const av = availability(action, s);
    if (av.mode === 'ok') plan.targets.push(s);
    else plan.skipped.push({ session: s, reason: av.reason || `Not available while ${s.status}.` });
  }
  return plan;
}
