// What kind of cluster a cluster is, as the engine decides it for its destinations
// (Operations::DriverForDestination): Gluster when one of its volumes is a Gluster volume,
// directory volumes only when every one is a directory. A cluster without volumes yet is a
// Gluster cluster if it was imported (its cluster.import event), else a cluster for directory
// volumes (it was created empty for them). The console offers only the steps of that kind:
// gluster's key exchange (gsec_create, push-pem, Re-establish) for Gluster clusters only.
import { api, type Volume } from '../../api';

export type ClusterKind = 'gluster' | 'directory';

export function kindOfVolumes(volumes: Volume[]): ClusterKind | null {
  if (volumes.some((v) => v.kind === 'gluster')) return 'gluster';
  if (volumes.length > 0) return 'directory';
  return null;
}

export async function loadClusterKind(clusterId: string, signal?: AbortSignal): Promise<ClusterKind> {
  const byVolumes = kindOfVolumes(await api.clusterVolumes(clusterId, signal));
  if (byVolumes) return byVolumes;
  const imported = await api
    .events({ object_type: 'cluster', object_id: clusterId, action: 'cluster.import', result: 'ok', limit: 1 }, signal)
    .then((e) => e.length > 0, () => false);
  return imported ? 'gluster' : 'directory';
}
