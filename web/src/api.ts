// The console's only way to the engine: the public REST API under /api/v1.
//
// The token lives in sessionStorage (gone with the tab); it is sent as a Bearer header and
// never put in a URL, so it cannot end up in a log or a browser history.

export interface Cluster { id: string; name: string; description: string; created_at: string | null }
export interface Host {
  id: string; cluster_id: string; name: string; address: string; ssh_port: number; ssh_user: string;
  transport: string; ssh_fingerprint: string; status: string; last_seen: string | null; created_at: string | null;
}
export interface Volume {
  id: string; cluster_id: string; name: string; kind: string; status: string;
  bricks: { host_id: string; path: string }[]; replica_count: number; disperse_count: number;
  size_bytes: number; used_bytes: number; created_at: string | null;
}
export interface Destination {
  id: string; source_cluster_id: string; source_host_id: string; host: string; ssh_port: number;
  ssh_fingerprint: string; remote_user: string; connection: string; connection_reason: string;
  last_checked: string | null; created_at: string | null;
}
export interface NodeStatus {
  source_host: string; source_brick: string; set_index: number; destination_host: string;
  status: string; status_reason: string; crawl_status: string; last_synced: string | null;
  // null: unknown (gluster says N/A, as for a Passive node).
  entry_pending: number | null; data_pending: number | null; meta_pending: number | null;
  failures: number | null;
  checkpoint_time: string | null; checkpoint_completed: boolean; checkpoint_completion_time: string | null;
  // null: unknown (never shown as 0)
  lag_seconds: number | null; throughput_bytes_per_second: number | null; updated_at: string | null;
}
// A standing reason a session is not healthy (data-at-risk, stalled, heartbeat-mismatch, ...).
export interface SessionAlert { kind: string; message: string; since: string | null; updated_at: string | null }
export interface SessionHeartbeat {
  interval_seconds: number; stall_threshold_seconds: number; last_written?: string | null;
  last_arrived_written?: string | null; last_arrived?: string | null;
  on_its_way_since?: string | null; last_checked?: string | null; problem?: string | null;
}
export interface Session {
  id: string; destination_id: string; source_volume_id: string; destination_volume: string;
  remote_user: string; session_key: string; status: string; status_reason: string;
  created_at: string | null; updated_at: string | null;
  nodes?: NodeStatus[]; warnings?: string[]; alerts?: SessionAlert[];
  // The session's end-to-end figures (null: unknown).
  lag_seconds?: number | null; throughput_bytes_per_second?: number | null;
  heartbeat?: SessionHeartbeat | null;
}
export interface CandidateVolume { name: string; status: string; size_bytes: number; eligible: boolean; reasons: string[] }
export interface ConfigItem {
  key: string; value: string; default: string; is_default: boolean; type: string; description: string;
  allowed_values: string[]; changed_by: string | null; changed_at: string | null;
}
export interface AuditEvent {
  id: number; at: string; actor: string; action: string; object_type: string; object_id: string;
  result: string; message: string;
}
export interface VerifyReport {
  identical: boolean; entries: number; content_checked: number; bytes_hashed: number;
  differences: { path: string; difference: string }[];
  not_compared?: string[];
}
export interface RepairReport {
  identical: boolean; differences_found: number; resent: number; deleted: number;
  before: VerifyReport; after: VerifyReport;
}
// What a user may do: viewers read, operators also run sessions, admins change everything.
export type Role = 'viewer' | 'operator' | 'admin';
// The logged-in user; `admin` (the role is admin) stays for clients written before roles.
export interface Me { id: string; name: string; role: Role; admin: boolean; created_at: string | null }
export interface MetricSample { at: string; lag_seconds: number | null; throughput_bytes_per_second: number | null }

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

const TOKEN_KEY = 'georep.token';
const USER_KEY = 'georep.user';
const TOKEN_ID_KEY = 'georep.token_id';
let onUnauthenticated: () => void = () => {};

export function setUnauthenticatedHandler(fn: () => void) {
  onUnauthenticated = fn;
}
export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function currentUser(): string | null {
  return sessionStorage.getItem(USER_KEY);
}

export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'unavailable', 'The engine cannot be reached. Is georep serve running?');
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: reported below */
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (res.status === 401 && path !== '/auth/login') {
      sessionStorage.removeItem(TOKEN_KEY);
      onUnauthenticated();
    }
    throw new ApiError(res.status, err?.code ?? 'error', err?.message ?? `The engine answered ${res.status}.`);
  }
  return json as T;
}

const get = <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, signal);
const post = <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {});
const put = <T>(path: string, body: unknown) => request<T>('PUT', path, body);
const del = (path: string) => request<void>('DELETE', path);
const items = async <T>(path: string, signal?: AbortSignal) => (await get<{ items: T[] }>(path, signal)).items;
const q = (params: Record<string, string | number | boolean | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && v !== false) s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : '';
};
const e = encodeURIComponent;

export const api = {
  async login(username: string, password: string) {
    const r = await request<{ token: string; token_id: string; username: string }>('POST', '/auth/login', {
      username, password, token_name: 'web-console', ttl_seconds: 12 * 3600,
    });
    sessionStorage.setItem(TOKEN_KEY, r.token);
    sessionStorage.setItem(TOKEN_ID_KEY, r.token_id);
    sessionStorage.setItem(USER_KEY, r.username);
    return r;
  },
  // Revokes the console's token in the engine (so a copy of it is worth nothing), then forgets it.
  async logout() {
    const id = sessionStorage.getItem(TOKEN_ID_KEY);
    try {
      if (id && token()) await request<void>('DELETE', `/tokens/${encodeURIComponent(id)}`);
    } catch {
      /* already expired or revoked: nothing more to do */
    }
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TOKEN_ID_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
  me: () => get<Me>('/me'),

  clusters: (s?: AbortSignal) => items<Cluster>('/clusters', s),
  cluster: (id: string) => get<Cluster>(`/clusters/${e(id)}`),
  createCluster: (name: string, description = '') => post<Cluster>('/clusters', { name, description }),
  hosts: (clusterId: string, s?: AbortSignal) => items<Host>(`/clusters/${e(clusterId)}/hosts`, s),
  scanHostKeys: (address: string, port: number) =>
    post<{ items: { type: string; fingerprint: string }[] }>('/host-keys/scan', { address, port }),

  volumes: (s?: AbortSignal) => items<Volume>('/volumes', s),
  clusterVolumes: (clusterId: string, s?: AbortSignal) => items<Volume>(`/clusters/${e(clusterId)}/volumes`, s),
  volume: (id: string) => get<Volume>(`/volumes/${e(id)}`),

  destinations: (clusterId: string, s?: AbortSignal) => items<Destination>(`/clusters/${e(clusterId)}/destinations`, s),
  destination: (id: string) => get<Destination>(`/destinations/${e(id)}`),
  createDestination: (clusterId: string, spec: {
    source_host_id: string; host: string; ssh_port: number; remote_user: string; ssh_fingerprint: string;
    copy_keys: boolean; password?: string;
  }) => post<Destination>(`/clusters/${e(clusterId)}/destinations`, spec),
  reestablishDestination: (id: string, spec: { ssh_fingerprint?: string; password?: string }) =>
    post<Destination>(`/destinations/${e(id)}/reestablish`, spec),
  testDestination: (id: string) => post<Destination & { problems: string[]; warnings: string[] }>(`/destinations/${e(id)}/test`),
  removeDestination: (id: string, force = false) =>
    request<{ message: string }>('DELETE', `/destinations/${e(id)}${q({ force })}`),
  destinationSessions: (id: string, s?: AbortSignal) => items<Session>(`/destinations/${e(id)}/sessions`, s),
  candidateVolumes: (destinationId: string, sourceVolumeId: string) =>
    items<CandidateVolume>(`/destinations/${e(destinationId)}/volumes${q({ source_volume_id: sourceVolumeId })}`),

  sessions: (s?: AbortSignal) => items<Session>('/sessions', s),
  volumeSessions: (volumeId: string, s?: AbortSignal) => items<Session>(`/volumes/${e(volumeId)}/sessions`, s),
  session: (id: string, s?: AbortSignal) => get<Session>(`/sessions/${e(id)}`, s),
  createSession: (spec: {
    destination_id: string; source_volume_id: string; destination_volume: string; force: boolean; sync_method?: string;
  }) =>
    post<Session>('/sessions', spec),
  sessionAction: (id: string, action: 'start' | 'stop' | 'pause' | 'resume', force = false) =>
    post<Session>(`/sessions/${e(id)}/${action}${q({ force })}`),
  removeSession: (id: string, force = false, resetSyncTime = false) =>
    del(`/sessions/${e(id)}${q({ force, reset_sync_time: resetSyncTime })}`),
  verifySession: (id: string, samplePercent = 100) =>
    post<VerifyReport>(`/sessions/${e(id)}/verify${q({ sample_percent: samplePercent })}`),
  repairSession: (id: string) => post<RepairReport>(`/sessions/${e(id)}/repair`),
  refreshSession: (id: string) => post<Session>(`/sessions/${e(id)}/refresh`),
  sessionMetrics: (id: string, s?: AbortSignal) => items<MetricSample>(`/sessions/${e(id)}/metrics`, s),

  config: (sessionId: string) => items<ConfigItem>(`/sessions/${e(sessionId)}/config`),
  setConfig: (sessionId: string, key: string, value: string) =>
    put<ConfigItem>(`/sessions/${e(sessionId)}/config/${e(key)}`, { value }),
  resetConfig: (sessionId: string, key: string) => del(`/sessions/${e(sessionId)}/config/${e(key)}`),

  events: (f: {
    after_id?: number; before_id?: number; limit?: number; object_type?: string; object_id?: string;
    action?: string; result?: string;
  }, s?: AbortSignal) =>
    items<AuditEvent>(`/events${q(f)}`, s),
};
