// The console's only way to the engine: the public REST API under /api/v1.
//
// The token lives in sessionStorage (gone with the tab); it is sent as a Bearer header and
// never put in a URL, so it cannot end up in a log or a browser history.
import type { components } from './apiSchema';

// The API's types, generated from the engine's OpenAPI document (web/openapi.json) by
// scripts/build-web.sh: status fields are the unions of words the engine sends.
type Schemas = components['schemas'];
export type Cluster = Schemas['Cluster'];
export type Host = Schemas['Host'];
export type Volume = Schemas['Volume'];
export type Destination = Schemas['Destination'];
export type NodeStatus = Schemas['NodeStatus'];
// A standing reason a session is not healthy (data-at-risk, stalled, heartbeat-mismatch, ...).
export type SessionAlert = Schemas['SessionAlert'];
export type SessionHeartbeat = Schemas['Heartbeat'];
// A session with its nodes, alerts, end-to-end figures and the actions its status allows.
export type Session = Schemas['SessionDetail'];
export type SessionStatus = Session['status'];
export type SessionActionAvailability = Schemas['SessionActionAvailability'];
export type CandidateVolume = Schemas['CandidateVolume'];
export type ConfigItem = Schemas['ConfigItem'];
export type AuditEvent = Schemas['Event'];
export type VerifyReport = Schemas['VerifyReport'];
export type RepairReport = Schemas['RepairReport'];
// The logged-in user; `admin` (the role is admin) stays for clients written before roles.
export type Me = Schemas['User'];
// What a user may do: viewers read, operators also run sessions, admins change everything.
export type Role = Me['role'];
// A user as an administrator lists them (the same fields as /me).
export type User = Schemas['User'];
// An API token: its secret (`token`) only in the answer that issued it.
export type ApiToken = Schemas['Token'];
export type MetricSample = Schemas['MetricSample'];
// An alert: one rule's condition on a session or destination, firing or resolved.
export type Alert = Schemas['Alert'];
// A notifier (a webhook or an e-mail address) that carries alerts out; its `secret` only in the
// answer that added it.
export type Notifier = Schemas['Notifier'];
export type NotifierSpec = Schemas['NotifierSpec'];
export type NotifierChange = Schemas['NotifierChange'];
// One message to a notifier (about an alert, or a test) with its attempts.
export type Delivery = Schemas['Delivery'];
// An engine setting (an alert threshold), its default and range.
export type Setting = Schemas['Setting'];

// The engine's error answer: {"error": {"code", "message", "field"}}. `field`, when the engine
// names one (an invalid argument), is the JSON field of the request that was refused, so a form
// can show the message on that field.
export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public field?: string) {
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
// The id of the token this console logged in with (revoking it logs the console out).
export function currentTokenId(): string | null {
  return sessionStorage.getItem(TOKEN_ID_KEY);
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
    const err = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    if (res.status === 401 && path !== '/auth/login') {
      sessionStorage.removeItem(TOKEN_KEY);
      onUnauthenticated();
    }
    throw new ApiError(res.status, err?.code ?? 'error', err?.message ?? `The engine answered ${res.status}.`,
      typeof err?.field === 'string' && err.field ? err.field : undefined);
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
    const r = await request<Schemas['LoginResult']>('POST', '/auth/login', {
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

  // The caller's own tokens; the users and their tokens (administrators).
  tokens: (s?: AbortSignal) => items<ApiToken>('/tokens', s),
  createToken: (name: string, ttlSeconds: number) => post<ApiToken>('/tokens', { name, ttl_seconds: ttlSeconds }),
  revokeToken: (id: string) => del(`/tokens/${e(id)}`),
  users: (s?: AbortSignal) => items<User>('/users', s),
  createUser: (name: string, password: string, role: Role) => post<User>('/users', { name, password, role }),
  removeUser: (id: string) => del(`/users/${e(id)}`),
  setPassword: (id: string, password: string) => put<void>(`/users/${e(id)}/password`, { password }),
  setUserRole: (id: string, role: Role) => put<User>(`/users/${e(id)}/role`, { role }),
  userTokens: (id: string, s?: AbortSignal) => items<ApiToken>(`/users/${e(id)}/tokens`, s),
  revokeUserTokens: (id: string) => del(`/users/${e(id)}/tokens`),

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
  everyDestination: (s?: AbortSignal) => items<Destination>('/destinations', s),
  createDestination: (clusterId: string, spec: {
    source_host_id: string; host: string; ssh_port: number; remote_user: string; ssh_fingerprint: string;
    copy_keys: boolean; password?: string;
  }) => post<Destination>(`/clusters/${e(clusterId)}/destinations`, spec),
  reestablishDestination: (id: string, spec: { ssh_fingerprint?: string; password?: string }) =>
    post<Destination>(`/destinations/${e(id)}/reestablish`, spec),
  testDestination: (id: string) => post<Destination & { problems: string[]; warnings: string[] }>(`/destinations/${e(id)}/test`),
  removeDestination: (id: string, force = false) =>
    request<Schemas['Message']>('DELETE', `/destinations/${e(id)}${q({ force })}`),
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
  sessionAction: (id: string, action: Exclude<SessionActionAvailability['action'], 'delete'>, force = false) =>
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

  alerts: (f: { state?: 'firing' | 'resolved'; object_id?: string; limit?: number }, s?: AbortSignal) =>
    items<Alert>(`/alerts${q(f)}`, s),
  acknowledgeAlert: (id: number) => post<Alert>(`/alerts/${id}/acknowledge`),
  alertDeliveries: (id: number, s?: AbortSignal) => items<Delivery>(`/alerts/${id}/deliveries`, s),

  // Notifiers (administrators): a webhook's secret comes back once, from createNotifier.
  notifiers: (s?: AbortSignal) => items<Notifier>('/notifiers', s),
  createNotifier: (spec: NotifierSpec) => post<Notifier>('/notifiers', spec),
  changeNotifier: (id: string, change: NotifierChange) => put<Notifier>(`/notifiers/${e(id)}`, change),
  removeNotifier: (id: string) => del(`/notifiers/${e(id)}`),
  testNotifier: (id: string) => post<Delivery>(`/notifiers/${e(id)}/test`),
  notifierDeliveries: (id: string, s?: AbortSignal, limit = 100) =>
    items<Delivery>(`/notifiers/${e(id)}/deliveries${q({ limit })}`, s),

  // The engine settings (the alerts' thresholds): read by everyone, changed by administrators.
  settings: (s?: AbortSignal) => items<Setting>('/settings', s),
  setSetting: (key: string, value: number) => put<Setting>(`/settings/${e(key)}`, { value }),
  resetSetting: (key: string) => del(`/settings/${e(key)}`),
};
