// What the console gathers across clusters: every destination, a session's name as people read it, and which sessions go from or to a cluster or a
// volume (for the lists' worst-status columns).
import { api, type Cluster, type Destination, type Host, type Session, type Volume } from './api';

// Every cluster's destinations, in one request.
export function allDestinations(signal?: AbortSignal): Promise<Destination[]> {
  return api.everyDestination(signal);
}

export async function allHosts(clusters: Cluster[], signal?: AbortSignal): Promise<Host[]> {
  const lists = await Promise.all(clusters.map((c) => api.hosts(c.id, signal).catch(() => [] as Host[])));
  return lists.flat();
}

// "source → host::/replica": the source volume's name, the destination host and volume.
export function sessionName(s: Session, volumes: Volume[] | undefined, destinations: Destination[] | undefined): string {
  const source = volumes?.find((v) => v.id === s.source_volume_id)?.name ?? s.source_volume_id;
  return `${source} → ${destinationText(s, destinations)}`;
}

export function destinationText(s: Session, destinations: Destination[] | undefined): string {
  const host = destinations?.find((d) => d.id === s.destination_id)?.host ?? s.nodes?.[0]?.destination_host ?? '';
  return `${host ? `${host}::` : ''}${s.destination_volume}`;
}

// The host of `hosts` a destination reaches (by address or name).
function destinationHost(s: Session, destinations: Destination[], hosts: Host[]): Host[] {
  const d = destinations.find((x) => x.id === s.destination_id);
  if (!d) return [];
  return hosts.filter((h) => h.address === d.host || h.name === d.host);
}

// The sessions whose source is the volume, and those whose destination is it: a destination host
// of the volume's cluster, and the volume's name (gluster) or its directory (directory volumes).
export function sessionsOfVolume(v: Volume, sessions: Session[], destinations: Destination[], hosts: Host[]): Session[] {
  return sessions.filter((s) => {
    if (s.source_volume_id === v.id) return true;
    const into = destinationHost(s, destinations, hosts).filter((h) => h.cluster_id === v.cluster_id);
    if (into.length === 0) return false;
    if (v.kind === 'directory') return v.bricks.some((b) => b.path === s.destination_volume && into.some((h) => h.id === b.host_id));
    return s.destination_volume === v.name;
  });
}

// The sessions from the cluster's volumes, and those to one of its hosts.
export function sessionsOfCluster(c: Cluster, volumes: Volume[], sessions: Session[], destinations: Destination[], hosts: Host[]): Session[] {
  const mine = new Set(volumes.filter((v) => v.cluster_id === c.id).map((v) => v.id));
  return sessions.filter((s) =>
    mine.has(s.source_volume_id) || destinationHost(s, destinations, hosts).some((h) => h.cluster_id === c.id));
}
