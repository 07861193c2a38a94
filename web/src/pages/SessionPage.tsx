// A geo-replication session: where it goes, its status, the same actions as the sessions table,
// one row per node, and lag / throughput over time.
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import {
  Alert, Breadcrumb, BreadcrumbItem, Button, DescriptionList, DescriptionListDescription, DescriptionListGroup,
  DescriptionListTerm, Flex, FlexItem, Label, PageSection, Spinner, Title, Toolbar, ToolbarContent, ToolbarGroup,
  ToolbarItem, Tooltip,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { api, ApiError, type MetricSample, type Session } from '../api';
import { useLiveEvents, usePollWhileOffline } from '../live';
import { ErrorAlert, formatLag, formatRate, Time, TimeText, useAsync } from '../util';
import { ExplainedButton, useRole } from '../role';
import {
  ACTION_LABEL, ACTION_ORDER, ACTION_ROLE, asSession, availability, checkpointState, countText, crawlSummary, removedId, sessionLag,
  sessionLastSynced, sessionThroughput,
  type SessionActionName,
} from '../components/sessionModel';
import { SessionStatusLabel } from '../components/SessionStatus';
import { SessionActionDialogs, type PendingAction } from '../components/SessionActionDialogs';
// The charts (and their library) load only with this page. If their chunk cannot be fetched
// (the console was rebuilt or upgraded since this page was loaded: its hashed file name is gone)
// the page says so instead of going blank -- a rejected lazy import has no error boundary here.
const SessionCharts = lazy(() =>
  import('../components/SessionCharts').then(
    (m) => ({ default: m.SessionCharts }),
    () => ({
      default: function ChartsUnavailable(_props: { samples: MetricSample[] }) {
        return (
          <Alert variant="warning" isInline title="The charts could not be loaded">
            The console was probably updated since this page was opened: reload the page.
          </Alert>
        );
      },
    }),
  ),
);

const HOUR = 3600 * 1000;

export function SessionPage() {
  const { sessionId = '' } = useParams();
  const navigate = useNavigate();
  const sess = useAsync((s) => api.session(sessionId, s), [sessionId]);
  const volumeId = sess.data?.source_volume_id;
  const destinationId = sess.data?.destination_id;
  const vol = useAsync(async () => (volumeId ? api.volume(volumeId) : undefined), [volumeId]);
  const dest = useAsync(async () => (destinationId ? api.destination(destinationId) : undefined), [destinationId]);
  // The engine's samples (GET /sessions/{id}/metrics), extended by live events. An engine
  // without the endpoint gives an empty chart that fills from the session's own updates.
  const [samples, setSamples] = useState<MetricSample[]>([]);
  const metricsServed = useRef(false);
  const loadMetrics = useCallback(async () => {
    try {
      const m = await api.sessionMetrics(sessionId);
      metricsServed.current = true;
      setSamples(m);
    } catch {
      metricsServed.current = false;
    }
  }, [sessionId]);
  useEffect(() => {
    setSamples([]);
    void loadMetrics();
  }, [loadMetrics]);
  const [pending, setPending] = useState<PendingAction | null>(null);
  const [removed, setRemoved] = useState(false);
  const gate = useRole();

  const appendSample = useCallback((s: Session) => {
    if (!s.nodes || s.nodes.length === 0) return;
    const sample: MetricSample = {
      at: new Date().toISOString(),
      lag_seconds: sessionLag(s),
      throughput_bytes_per_second: sessionThroughput(s),
    };
    const cutoff = Date.now() - HOUR;
    setSamples((cur) => [...cur.filter((x) => new Date(x.at).getTime() >= cutoff), sample]);
  }, []);

  const { setData: setSession } = sess;
  useLiveEvents(['session', 'session_removed'], (type, data) => {
    if (type === 'resync') {
      sess.reload();
      void loadMetrics();
    } else if (type === 'session') {
      const s = asSession(data);
      if (s && s.id === sessionId) {
        setSession((cur) => ({ ...s, nodes: s.nodes ?? cur?.nodes, warnings: s.warnings ?? cur?.warnings }));
        appendSample(s);
      }
    } else if (removedId(data) === sessionId) {
      setRemoved(true);
    }
  });
  // Without the live stream: poll the session (and the engine's samples, or sample it here).
  const poll = useCallback(() => {
    api.session(sessionId).then(
      (s) => {
        setSession(s);
        if (metricsServed.current) void loadMetrics();
        else appendSample(s);
      },
      (e) => {
        if (e instanceof ApiError && e.status === 404) setRemoved(true);
      },
    );
  }, [sessionId, setSession, loadMetrics, appendSample]);
  usePollWhileOffline(poll);

  const s = sess.data;
  const v = vol.data;
  const host = dest.data?.host ?? s?.nodes?.[0]?.destination_host ?? '';
  const volumeSessions = v ? `/volumes/${encodeURIComponent(v.id)}/sessions` : '/volumes';

  if (removed || (sess.error && !s)) {
    return (
      <PageSection>
        {removed ? (
          <Alert variant="info" isInline title="This session has been removed">
            <Link to={volumeSessions}>Back to the volume&apos;s sessions</Link>
          </Alert>
        ) : (
          <ErrorAlert error={sess.error} title="Could not read the session" />
        )}
      </PageSection>
    );
  }
  if (!s) {
    return (
      <PageSection>
        <Spinner size="lg" aria-label="Loading the session" />
      </PageSection>
    );
  }

  const open = (action: SessionActionName, el: HTMLElement | null) => setPending({ action, session: s, returnFocus: el });
  // The header's figures are the engine's aggregate of the node rows below: null is a dash in
  // both, never 0.
  const synced = sessionLastSynced(s);
  const lag = sessionLag(s);
  const throughput = sessionThroughput(s);
  const checkpoint = checkpointState(s.nodes);

  return (
    <>
      <PageSection variant="light">
        <Breadcrumb>
          <BreadcrumbItem><Link to="/volumes">Volumes</Link></BreadcrumbItem>
          <BreadcrumbItem><Link to={volumeSessions}>{v?.name ?? '…'}</Link></BreadcrumbItem>
          <BreadcrumbItem isActive>{s.session_key}</BreadcrumbItem>
        </Breadcrumb>
        <Flex alignItems={{ default: 'alignItemsCenter' }} spaceItems={{ default: 'spaceItemsMd' }}>
          <FlexItem>
            <Title headingLevel="h1">
              {v?.name ?? '…'} → {host}::{s.destination_volume}
            </Title>
          </FlexItem>
          <FlexItem><SessionStatusLabel status={s.status} /></FlexItem>
        </Flex>
        {s.status_reason && <Alert variant={s.status.includes('aulty') ? 'danger' : 'info'} isInline isPlain title={<TimeText text={s.status_reason} />} />}
        {(s.alerts ?? []).map((a) => (
          <Alert key={a.kind} variant="danger" isInline title={<TimeText text={a.message} />} data-alert={a.kind}>
            Since <Time iso={a.since} show="both" />
          </Alert>
        ))}
        {(s.warnings ?? []).map((w) => <Alert key={w} variant="warning" isInline isPlain title={<TimeText text={w} />} />)}
        <DescriptionList isHorizontal isCompact columnModifier={{ default: '3Col' }} className="georep-session-facts">
          <DescriptionListGroup>
            <DescriptionListTerm>Session</DescriptionListTerm>
            <DescriptionListDescription><code>{s.session_key}</code></DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Remote user</DescriptionListTerm>
            <DescriptionListDescription>{s.remote_user}</DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Crawl status</DescriptionListTerm>
            <DescriptionListDescription>{crawlSummary(s.nodes)}</DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Last synced</DescriptionListTerm>
            <DescriptionListDescription aria-label="Last synced"><Time iso={synced} /></DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Lag</DescriptionListTerm>
            <DescriptionListDescription aria-label="Lag">{formatLag(lag)}</DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Throughput</DescriptionListTerm>
            <DescriptionListDescription aria-label="Throughput">{formatRate(throughput)}</DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Checkpoint</DescriptionListTerm>
            <DescriptionListDescription aria-label="Checkpoint state">
              {checkpoint ? (
                <>
                  <Time iso={checkpoint.time} show="both" />{' '}
                  {checkpoint.completed
                    ? <Label color="green" isCompact>Completed <Time iso={checkpoint.completedAt} /></Label>
                    : <Label color="blue" isCompact>Pending</Label>}
                  {!checkpoint.completed && (
                    <div className="georep-status-reason">
                      Completes once every change made before it is applied: last synced <Time iso={synced} />
                      {s.status === 'Paused' || s.status === 'Stopped' ? `, and the session is ${s.status.toLowerCase()}` : ''}.
                    </div>
                  )}
                </>
              ) : 'None'}
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Created</DescriptionListTerm>
            <DescriptionListDescription><Time iso={s.created_at} show="both" /></DescriptionListDescription>
          </DescriptionListGroup>
        </DescriptionList>
        <Toolbar aria-label="Session actions">
          <ToolbarContent>
            <ToolbarGroup variant="button-group">
              {ACTION_ORDER.map((a) => {
                // A role that is not enough says so first; then what the session's status allows.
                const needs = gate.why(ACTION_ROLE[a]);
                const av = needs ? { mode: 'no' as const, reason: needs } : availability(a, s);
                const variant = a === 'remove' ? 'danger' : a === 'start' && av.mode === 'ok' ? 'primary' : 'secondary';
                if (av.mode !== 'force') {
                  return (
                    <ToolbarItem key={a}>
                      <ExplainedButton variant={variant} why={av.mode === 'no' ? av.reason ?? 'Not available now' : undefined}
                        onClick={(e) => open(a, e.currentTarget)}>
                        {ACTION_LABEL[a]}
                      </ExplainedButton>
                    </ToolbarItem>
                  );
                }
                return (
                  <ToolbarItem key={a}>
                    <Tooltip content={av.reason}>
                      <Button variant={variant} onClick={(e) => open(a, e.currentTarget)}>{ACTION_LABEL[a]}</Button>
                    </Tooltip>
                  </ToolbarItem>
                );
              })}
            </ToolbarGroup>
          </ToolbarContent>
        </Toolbar>
      </PageSection>
      <PageSection>
        <Title headingLevel="h2" className="georep-section-title">Nodes</Title>
        <Table aria-label="Session nodes" variant="compact">
          <Thead>
            <Tr>
              <Th modifier="wrap">Source host</Th>
              <Th modifier="wrap">Brick</Th>
              <Th modifier="wrap">Destination host</Th>
              <Th modifier="wrap">Status</Th>
              <Th modifier="wrap">Crawl status</Th>
              <Th modifier="wrap">Last synced</Th>
              <Th modifier="wrap" info={{ tooltip: 'Entry, data and metadata changes still to sync' }}>Pending</Th>
              <Th modifier="wrap">Failures</Th>
              <Th modifier="wrap">Checkpoint</Th>
              <Th modifier="wrap">Lag</Th>
              <Th modifier="wrap">Throughput</Th>
            </Tr>
          </Thead>
          <Tbody>
            {(s.nodes ?? []).map((n) => (
              <Tr key={`${n.source_host}:${n.source_brick}`}>
                <Td dataLabel="Source host">{n.source_host}</Td>
                <Td dataLabel="Brick"><code>{n.source_brick}</code></Td>
                <Td dataLabel="Destination host">{n.destination_host}</Td>
                <Td dataLabel="Status"><SessionStatusLabel status={n.status} reason={n.status_reason} /></Td>
                <Td dataLabel="Crawl status">{n.crawl_status}</Td>
                <Td dataLabel="Last synced"><Time iso={n.last_synced} /></Td>
                <Td dataLabel="Pending">{countText(n.entry_pending)} / {countText(n.data_pending)} / {countText(n.meta_pending)}</Td>
                <Td dataLabel="Failures">{countText(n.failures)}</Td>
                <Td dataLabel="Checkpoint">
                  {n.checkpoint_time ? (
                    <>
                      <div><Time iso={n.checkpoint_time} show="both" /></div>
                      <div>
                        {n.checkpoint_completed
                          ? <Label color="green" isCompact>Completed <Time iso={n.checkpoint_completion_time} /></Label>
                          : <Label color="blue" isCompact>Not completed</Label>}
                      </div>
                    </>
                  ) : 'None'}
                </Td>
                <Td dataLabel="Lag">{formatLag(n.lag_seconds)}</Td>
                <Td dataLabel="Throughput">{formatRate(n.throughput_bytes_per_second)}</Td>
              </Tr>
            ))}
            {(s.nodes ?? []).length === 0 && (
              <Tr><Td colSpan={11}>No node status reported yet.</Td></Tr>
            )}
          </Tbody>
        </Table>
      </PageSection>
      <PageSection>
        <Suspense fallback={<Spinner size="lg" aria-label="Loading the charts" />}>
          <SessionCharts samples={samples} />
        </Suspense>
      </PageSection>
      <SessionActionDialogs pending={pending} volumeKind={v?.kind} destinationHost={host}
        onClose={() => setPending(null)}
        onUpdated={(u) => sess.setData((cur) => ({ ...u, nodes: u.nodes ?? cur?.nodes }))}
        onRemoved={() => navigate(volumeSessions)} />
    </>
  );
}
