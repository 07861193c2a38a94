// API calls used by the clusters, hosts, volumes, destinations and events screens that the
// shared client (api.ts) does not have yet. Same conventions: the public REST API only,
// through api.ts's request() (token, errors as ApiError with the engine's message).
import { request, type Cluster, type Host, type Volume } from './api';

const e = encodeURIComponent;

export interface HostKey { type: string; fingerprint: string }
export interface HostCheckResult extends Host { reachable: boolean; reason: string }
export interface ImportResult { cluster: Cluster; hosts: Host[]; volumes: Volume[] }

export const clusterApi = {
  removeCluster: (id: string) => request<void>('DELETE', `/clusters/${e(id)}`),
  importCluster: (spec: {
    name: string; address: string; ssh_port: number; ssh_user: string; ssh_fingerprint: string; password?: string;
  }) =>
    request<ImportResult>('POST', '/clusters/import', spec),

  addHost: (clusterId: string, spec: {
    name: string; address: string; transport: 'local' | 'ssh'; ssh_port?: number; ssh_user?: string;
    ssh_fingerprint?: string; password?: string;
  }) => request<Host>('POST', `/clusters/${e(clusterId)}/hosts`, spec),
  host: (id: string) => request<Host>('GET', `/hosts/${e(id)}`),
  checkHost: (id: string) => request<HostCheckResult>('POST', `/hosts/${e(id)}/check`, {}),
  repinHost: (id: string, fingerprint: string) => request<Host>('PUT', `/hosts/${e(id)}/fingerprint`, { fingerprint }),
  removeHost: (id: string) => request<void>('DELETE', `/hosts/${e(id)}`),

  addDirectoryVolume: (clusterId: string, spec: { name: string; host_id: string; path: string }) =>
    request<Volume>('POST', `/clusters/${e(clusterId)}/volumes`, { ...spec, kind: 'directory' }),
  removeVolume: (id: string) => request<void>('DELETE', `/volumes/${e(id)}`),
};
