// Every volume georep knows, in every cluster, with how many geo-replication sessions each has and
// the worst status among the sessions from or to it.
import { useCallback, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import {
  EmptyState, EmptyStateBody, EmptyStateHeader, EmptyStateIcon, Label, PageSection, SearchInput, Spinner, Title,
  Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import CubesIcon from '@patternfly/react-icons/dist/esm/icons/cubes-icon';
import { Table, Tbody, Td, Th, Thead, Tr, type ThProps } from '@patternfly/react-table';
import { api, type Cluster, type Destination, type Host, type Session, type Volume } from '../api';
import { useLiveEvents, usePollWhileOffline } from '../live';
import { ErrorAlert, StatusLabel, useAsync } from '../util';
import { brickText, usageText } from '../components/volumeText';
import { asSession, mergeSession, removedId, statusRank, worstStatus } from '../components/sessionModel';
import { WorstStatusLabel } from '../components/SessionStatus';
import { allDestinations, allHosts, sessionsOfVolume } from '../fleet';

interface Data { volumes: Volume[]; clusters: Cluster[]; hosts: Host[]; destinations: Destination[]; sessions: Session[] }

async function load(signal: AbortSignal): Promise<Data> {
  const [volumes, clusters, sessions] = await Promise.all([api.volumes(signal), api.clusters(signal), api.sessions(signal)]);
  const [hosts, destinations] = await Promise.all([allHosts(clusters, signal), allDestinations(signal)]);
  return { volumes, clusters, hosts, destinations, sessions };
}

type SortKey = 'name' | 'cluster' | 'kind' | 'status' | 'sessions' | 'worst';

export function VolumesPage() {
  const { data, error, loading, reload, setData } = useAsync(load, []);
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; dir: 'asc' | 'desc' }>({ key: 'name', dir: 'asc' });

  useLiveEvents(['session', 'session_removed'], (type, d) => {
    if (type === 'resync') return reload();
    if (type === 'session') {
      const s = asSession(d);
      if (s) setData((cur) => cur && { ...cur, sessions: mergeSession(cur.sessions, s) });
    } else {
      const id = removedId(d);
      if (id) setData((cur) => cur && { ...cur, sessions: cur.sessions.filter((x) => x.id !== id) });
    }
  });
  const poll = useCallback(() => {
    reload();
  }, [reload]);
  usePollWhileOffline(poll, 10000);

  const rows = useMemo(() => {
    if (!data) return [];
    const clusterName = (id: string) => data.clusters.find((c) => c.id === id)?.name ?? id;
    const count = (id: string) => data.sessions.filter((s) => s.source_volume_id === id).length;
    const f = filter.trim().toLowerCase();
    const r = data.volumes
      .map((v) => ({
        v, cluster: clusterName(v.cluster_id), sessions: count(v.id), bricks: brickText(v, data.hosts),
        related: sessionsOfVolume(v, data.sessions, data.destinations, data.hosts),
      }))
      .filter((x) => !f || x.v.name.toLowerCase().includes(f) || x.cluster.toLowerCase().includes(f) || x.bricks.some((b) => b.toLowerCase().includes(f)));
    const val = (x: (typeof r)[number]): string | number =>
      sort.key === 'name' ? x.v.name : sort.key === 'cluster' ? x.cluster : sort.key === 'kind' ? x.v.kind
        : sort.key === 'status' ? x.v.status : sort.key === 'sessions' ? x.sessions
          : (() => { const w = worstStatus(x.related); return w ? statusRank(w) : 99; })();
    r.sort((a, b) => {
      const A = val(a);
      const B = val(b);
      const c = typeof A === 'number' && typeof B === 'number' ? A - B : String(A).localeCompare(String(B));
      return sort.dir === 'asc' ? c : -c;
    });
    return r;
  }, [data, filter, sort]);

  const keys: SortKey[] = ['name', 'cluster', 'kind', 'status', 'sessions', 'worst'];
  const sortBy = (key: SortKey): ThProps['sort'] => ({
    sortBy: { index: keys.indexOf(sort.key), direction: sort.dir },
    onSort: (_e, _i, dir) => setSort({ key, dir }),
    columnIndex: keys.indexOf(key),
  });

  return (
    <>
      <PageSection variant="light">
        <Title headingLevel="h1">Volumes</Title>
      </PageSection>
      <PageSection>
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem variant="search-filter">
              <SearchInput aria-label="Filter volumes" placeholder="Filter by name, cluster or brick" value={filter}
                onChange={(_e, v) => setFilter(v)} onClear={() => setFilter('')} />
            </ToolbarItem>
            <ToolbarItem variant="pagination">{data ? `${rows.length} of ${data.volumes.length} volumes` : ''}</ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <ErrorAlert error={error} title="Could not list the volumes" />
        {!data && loading && <Spinner size="lg" aria-label="Loading volumes" />}
        {data && data.volumes.length === 0 && (
          <EmptyState>
            <EmptyStateHeader titleText="No volumes" headingLevel="h2" icon={<EmptyStateIcon icon={CubesIcon} />} />
            <EmptyStateBody>Import a Gluster cluster or add a directory volume to a cluster; its volumes are listed here.</EmptyStateBody>
          </EmptyState>
        )}
        {data && data.volumes.length > 0 && (
          <Table aria-label="Volumes" variant="compact">
            <Thead>
              <Tr>
                <Th modifier="nowrap" sort={sortBy('name')}>Name</Th>
                <Th modifier="nowrap" sort={sortBy('cluster')}>Cluster</Th>
                <Th modifier="nowrap" sort={sortBy('kind')}>Kind</Th>
                <Th modifier="nowrap" sort={sortBy('status')}>Status</Th>
                <Th modifier="nowrap">Bricks / path</Th>
                <Th modifier="nowrap">Used</Th>
                <Th modifier="nowrap" sort={sortBy('sessions')}>Sessions</Th>
                <Th modifier="nowrap" sort={sortBy('worst')} info={{ tooltip: 'The worst status among the sessions from or to this volume' }}>Session status</Th>
              </Tr>
            </Thead>
            <Tbody>
              {rows.map(({ v, cluster, sessions, bricks, related }) => (
                <Tr key={v.id}>
                  <Td dataLabel="Name"><Link to={`/volumes/${encodeURIComponent(v.id)}`}>{v.name}</Link></Td>
                  <Td dataLabel="Cluster"><Link to={`/clusters/${encodeURIComponent(v.cluster_id)}`}>{cluster}</Link></Td>
                  <Td dataLabel="Kind"><Label isCompact>{v.kind}</Label></Td>
                  <Td dataLabel="Status"><StatusLabel status={v.status} /></Td>
                  <Td dataLabel="Bricks / path">
                    {bricks.slice(0, 3).map((b) => <div key={b}><code>{b}</code></div>)}
                    {bricks.length > 3 && <div>and {bricks.length - 3} more</div>}
                  </Td>
                  <Td dataLabel="Used">{usageText(v)}</Td>
                  <Td dataLabel="Geo-replication sessions">
                    <Link to={`/volumes/${encodeURIComponent(v.id)}/sessions`} aria-label={`${sessions} sessions of ${v.name}`}>{sessions}</Link>
                  </Td>
                  <Td dataLabel="Session status"><WorstStatusLabel sessions={related} /></Td>
                </Tr>
              ))}
              {rows.length === 0 && (
                <Tr><Td colSpan={8}>No volume matches “{filter}”.</Td></Tr>
              )}
            </Tbody>
          </Table>
        )}
      </PageSection>
    </>
  );
}
