// Overview: the first page after login -- what needs attention across every cluster. Sessions
// counted by status, worst first (each count links to the Sessions list filtered by it), the
// sessions with the highest lag, the broken destinations and the firing alerts; kept current by
// the live stream. A new installation is told what to do first.
import { useCallback } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import {
  Button, Card, CardBody, CardFooter, CardHeader, CardTitle, EmptyState, EmptyStateActions, EmptyStateBody,
  EmptyStateFooter, EmptyStateHeader, EmptyStateIcon, Grid, GridItem, Label, List, ListItem, PageSection, Spinner, Title,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import CubesIcon from '@patternfly/react-icons/dist/esm/icons/cubes-icon';
import { api, type Alert as FiringAlert, type Cluster, type Destination, type Session, type Volume } from '../api';
import { useLiveEvents, usePollWhileOffline } from '../live';
import { ErrorAlert, formatLag, StatusLabel, Time, TimeText, useAsync } from '../util';
import { allDestinations, sessionName } from '../fleet';
import { asSession, mergeSession, removedId, sessionLag, sessionLastSynced, STATUSES_WORST_FIRST } from '../components/sessionModel';
import { SessionStatusLabel } from '../components/SessionStatus';
import type { useFiringAlerts } from '../components/AlertDrawer';

interface Data { clusters: Cluster[]; volumes: Volume[]; destinations: Destination[]; sessions: Session[] }

async function load(signal: AbortSignal): Promise<Data> {
  const [clusters, volumes, sessions, destinations] = await Promise.all(
    [api.clusters(signal), api.volumes(signal), api.sessions(signal), allDestinations(signal)]);
  return { clusters, volumes, sessions, destinations };
}

const TOP_LAG = 10;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function OverviewPage({ firing, onShowAlerts }: {
  firing: ReturnType<typeof useFiringAlerts>; onShowAlerts: () => void;
}) {
  const { data, error, loading, reload, setData } = useAsync(load, []);

  useLiveEvents(['session', 'session_removed', 'destination', 'destination_removed', 'audit'], (type, ev) => {
    if (type === 'session') {
      const s = asSession(ev);
      if (s) setData((cur) => cur && { ...cur, sessions: mergeSession(cur.sessions, s) });
    } else if (type === 'session_removed') {
      const id = removedId(ev);
      if (id) setData((cur) => cur && { ...cur, sessions: cur.sessions.filter((x) => x.id !== id) });
    } else if (type === 'audit') {
      // A cluster, host or volume added or removed changes what a new admin is told to do next.
      const t = (ev as { object_type?: string } | null)?.object_type;
      if (t === 'cluster' || t === 'volume' || t === 'host') reload();
    } else {
      reload();
    }
  });
  const poll = useCallback(() => {
    reload();
  }, [reload]);
  usePollWhileOffline(poll, 10000);

  return (
    <>
      <PageSection variant="light">
        <Title headingLevel="h1">Overview</Title>
        <p className="pf-v5-u-color-200">What needs attention across every cluster, worst first.</p>
      </PageSection>
      <PageSection>
        <ErrorAlert error={error} title="The overview could not be loaded" />
        {!data && loading && <Spinner size="lg" aria-label="Loading the overview" />}
        {data && data.clusters.length === 0 && <Welcome />}
        {data && data.clusters.length > 0 && (
          <Grid hasGutter>
            <GridItem md={5} xl={4}><StatusCard data={data} /></GridItem>
            <GridItem md={7} xl={8}><AlertsCard firing={firing} onShowAlerts={onShowAlerts} /></GridItem>
            <GridItem span={12}><DestinationsCard data={data} /></GridItem>
            <GridItem span={12}><LagCard data={data} /></GridItem>
          </Grid>
        )}
      </PageSection>
    </>
  );
}

// The empty states' ways onward are buttons: the navigation keeps the only links named after pages.
function Welcome() {
  const navigate = useNavigate();
  return (
    <EmptyState>
      <EmptyStateHeader titleText="Welcome to georep" headingLevel="h2" icon={<EmptyStateIcon icon={CubesIcon} />} />
      <EmptyStateBody>
        Start with a cluster: import a Gluster cluster through one of its hosts, or create a cluster for directory
        volumes. Then attach a destination to it and create a session from one of its volumes.
      </EmptyStateBody>
      <EmptyStateFooter>
        <EmptyStateActions>
          <Button variant="primary" onClick={() => navigate('/clusters')}>Go to Clusters</Button>
        </EmptyStateActions>
      </EmptyStateFooter>
    </EmptyState>
  );
}

function StatusCard({ data }: { data: Data }) {
  const navigate = useNavigate();
  const counts = STATUSES_WORST_FIRST.map((st) => ({ status: st, n: data.sessions.filter((s) => s.status === st).length }))
    .filter((c) => c.n > 0);
  return (
    <Card isFullHeight aria-labelledby="overview-status-title">
      <CardHeader><CardTitle id="overview-status-title" component="h2">Sessions by status</CardTitle></CardHeader>
      <CardBody>
        {data.sessions.length === 0 ? (
          <EmptyState variant="xs">
            <EmptyStateHeader titleText="No sessions yet" headingLevel="h3" />
            <EmptyStateBody>
              {data.destinations.length === 0
                ? 'A session needs a destination: attach one on a cluster’s Destinations tab, then open a volume and create a session with “New”.'
                : 'Open a volume and create a session with “New” on its Geo-Replication Sessions tab.'}
            </EmptyStateBody>
            <EmptyStateFooter>
              <Button variant="link" onClick={() => navigate(data.destinations.length === 0 ? '/clusters' : '/volumes')}>
                {data.destinations.length === 0 ? 'Go to Clusters' : 'Go to Volumes'}
              </Button>
            </EmptyStateFooter>
          </EmptyState>
        ) : (
          <List isPlain aria-label="Sessions by status" className="georep-status-counts">
            {/* The link's name begins with what it shows ("1 Faulty"), then says what is counted. */}
            {counts.map(({ status, n }) => (
              <ListItem key={status}>
                <Link to={`/sessions?status=${encodeURIComponent(status)}`} aria-label={`${n} ${status} ${n === 1 ? 'session' : 'sessions'}`}>
                  <span className="georep-count-number">{n}</span> <SessionStatusLabel status={status} />
                </Link>
              </ListItem>
            ))}
          </List>
        )}
      </CardBody>
      {data.sessions.length > 0 && (
        <CardFooter><Link to="/sessions">All {plural(data.sessions.length, 'session')}</Link></CardFooter>
      )}
    </Card>
  );
}

function alertObject(a: FiringAlert) {
  if (a.object_type === 'session') return <Link to={`/sessions/${encodeURIComponent(a.object_id)}`}>{a.object_name}</Link>;
  return <span>{a.object_name}</span>;
}

function AlertsCard({ firing, onShowAlerts }: { firing: ReturnType<typeof useFiringAlerts>; onShowAlerts: () => void }) {
  const { alerts, error } = firing;
  return (
    <Card isFullHeight aria-labelledby="overview-alerts-title">
      <CardHeader><CardTitle id="overview-alerts-title" component="h2">Firing alerts ({alerts.length})</CardTitle></CardHeader>
      <CardBody>
        <ErrorAlert error={error} title="The alerts could not be read" />
        {alerts.length === 0 ? (
          <EmptyState variant="xs">
            <EmptyStateHeader titleText="No firing alerts" headingLevel="h3" />
            <EmptyStateBody>Alerts fire when a session is faulty, stalled or lagging, or a destination breaks.</EmptyStateBody>
          </EmptyState>
        ) : (
          <List isPlain aria-label="Alerts firing now">
            {alerts.slice(0, 8).map((a) => (
              <ListItem key={a.id}>
                <Label color={a.severity === 'critical' ? 'red' : 'orange'} isCompact>{a.severity}</Label>{' '}
                <strong>{a.rule}</strong> on {a.object_type} {alertObject(a)}
                {a.acknowledged_at && <> <Label isCompact>acknowledged</Label></>}
                <div className="georep-alert-summary" title={a.summary}>
                  <Time iso={a.started_at} prefix="Since " />: <TimeText text={a.summary} />
                </div>
              </ListItem>
            ))}
          </List>
        )}
      </CardBody>
      {alerts.length > 0 && (
        <CardFooter>
          <Button variant="link" isInline onClick={onShowAlerts}>Show the alerts drawer</Button>
        </CardFooter>
      )}
    </Card>
  );
}

function DestinationsCard({ data }: { data: Data }) {
  const broken = data.destinations.filter((d) => d.connection === 'Broken');
  const cluster = (id: string) => data.clusters.find((c) => c.id === id)?.name ?? id;
  return (
    <Card isFullHeight aria-labelledby="overview-destinations-title">
      <CardHeader><CardTitle id="overview-destinations-title" component="h2">Broken destinations ({broken.length})</CardTitle></CardHeader>
      <CardBody>
        {broken.length === 0 ? (
          <EmptyState variant="xs">
            <EmptyStateHeader titleText={data.destinations.length === 0 ? 'No destinations yet' : 'No destination is broken'} headingLevel="h3" />
            <EmptyStateBody>
              {data.destinations.length === 0
                ? 'A destination is where a cluster’s volumes are replicated to; attach one on a cluster’s Destinations tab.'
                : `All ${plural(data.destinations.length, 'destination')} connected or not tested yet.`}
            </EmptyStateBody>
          </EmptyState>
        ) : (
          <Table aria-label="Broken destinations" variant="compact" className="georep-wide-reason">
            <Thead>
              <Tr>
                <Th>Destination</Th>
                <Th>Cluster</Th>
                <Th>Status</Th>
              </Tr>
            </Thead>
            <Tbody>
              {broken.map((d) => (
                <Tr key={d.id}>
                  <Td dataLabel="Destination">
                    <Link to={`/clusters/${encodeURIComponent(d.source_cluster_id)}/destinations`}>{d.remote_user}@{d.host}</Link>
                  </Td>
                  <Td dataLabel="Cluster">{cluster(d.source_cluster_id)}</Td>
                  <Td dataLabel="Status">
                    <StatusLabel status={d.connection} />
                    {d.connection_reason && <div className="georep-status-reason">{d.connection_reason}</div>}
                    <div className="georep-status-reason"><Time iso={d.last_checked} prefix="checked " empty="never checked" /></div>
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </CardBody>
    </Card>
  );
}

function LagCard({ data }: { data: Data }) {
  // Known lag, highest first; sessions whose lag is not known after them (never as 0).
  const top = [...data.sessions]
    .sort((a, b) => {
      const la = sessionLag(a);
      const lb = sessionLag(b);
      if (la === null || lb === null) return la === lb ? a.session_key.localeCompare(b.session_key) : la === null ? 1 : -1;
      return lb - la;
    })
    .slice(0, TOP_LAG);
  return (
    <Card aria-labelledby="overview-lag-title">
      <CardHeader><CardTitle id="overview-lag-title" component="h2">Highest lag</CardTitle></CardHeader>
      <CardBody>
        {top.length === 0 ? (
          <p>No sessions yet: each session&apos;s lag (how long the oldest change not yet applied has waited) is listed here.</p>
        ) : (
          <Table aria-label="Highest lag" variant="compact" className="georep-wide-reason">
            <Thead>
              <Tr>
                <Th>Session</Th>
                <Th>Status</Th>
                <Th>Lag</Th>
                <Th>Last synced</Th>
              </Tr>
            </Thead>
            <Tbody>
              {top.map((s) => {
                const synced = sessionLastSynced(s);
                return (
                  <Tr key={s.id} data-session-id={s.id}>
                    <Td dataLabel="Session">
                      <Link to={`/sessions/${encodeURIComponent(s.id)}`}>{sessionName(s, data.volumes, data.destinations)}</Link>
                    </Td>
                    <Td dataLabel="Status"><SessionStatusLabel status={s.status} alerts={s.alerts} /></Td>
                    <Td dataLabel="Lag">{formatLag(sessionLag(s))}</Td>
                    <Td dataLabel="Last synced"><Time iso={synced} /></Td>
                  </Tr>
                );
              })}
            </Tbody>
          </Table>
        )}
      </CardBody>
      {data.sessions.length > TOP_LAG && (
        <CardFooter><Link to="/sessions">All {plural(data.sessions.length, 'session')}</Link></CardFooter>
      )}
    </Card>
  );
}
