// A volume's geo-replication sessions: one row per session (expandable into one line per node),
// per-row actions enabled by the engine's rules, a New session dialog, live updates.
import { useCallback, useState } from 'react';
import { Link } from 'react-router-dom';
import {
  Alert, AlertActionCloseButton, EmptyState, EmptyStateBody, EmptyStateHeader, EmptyStateIcon,
  Spinner, Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import CubesIcon from '@patternfly/react-icons/dist/esm/icons/cubes-icon';
import { ExpandableRowContent, Table, Tbody, Td, Th, Thead, Tr, type IAction } from '@patternfly/react-table';
import { api, type Session, type Volume } from '../api';
import { useLiveEvents, usePollWhileOffline } from '../live';
import { ErrorAlert, formatLag, formatRate, Time, TimeText, useAsync } from '../util';
import { RoleButton, useRole } from '../role';
import {
  ACTION_LABEL, ACTION_ORDER, ACTION_ROLE, asSession, availability, crawlSummary, mergeSession, removedId, sessionLag, sessionLastSynced, sessionThroughput,
  type SessionActionName,
} from './sessionModel';
import { SessionStatusLabel } from './SessionStatus';
import { RowActions } from './common';
import { SessionActionDialogs, type PendingAction } from './SessionActionDialogs';
import { NewSessionModal } from './NewSessionModal';

export function SessionsTable({ volume, clusterName }: { volume: Volume; clusterName: string }) {
  const sessions = useAsync((s) => api.volumeSessions(volume.id, s), [volume.id]);
  const dests = useAsync((s) => api.destinations(volume.cluster_id, s), [volume.cluster_id]);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<PendingAction | null>(null);
  const [creating, setCreating] = useState(false);
  const [notice, setNotice] = useState<{ title: string; warnings: string[] } | null>(null);
  const [, setTick] = useState(0);
  const gate = useRole();

  const { setData, reload } = sessions;
  const merge = useCallback((s: Session) => setData((list) => mergeSession(list ?? [], s)), [setData]);
  const drop = useCallback((id: string) => setData((list) => (list ?? []).filter((x) => x.id !== id)), [setData]);

  useLiveEvents(['session', 'session_removed', 'destination', 'destination_removed'], (type, data) => {
    if (type === 'resync') {
      reload();
      dests.reload();
    } else if (type === 'session') {
      const s = asSession(data);
      if (s && s.source_volume_id === volume.id) merge(s);
      setTick((t) => t + 1); // "n s ago" moves on
    } else if (type === 'session_removed') {
      const id = removedId(data);
      if (id) drop(id);
    } else {
      dests.reload();
    }
  });
  const poll = useCallback(() => {
    reload();
  }, [reload]);
  usePollWhileOffline(poll);

  const hostOf = (s: Session) =>
    dests.data?.find((d) => d.id === s.destination_id)?.host ?? s.nodes?.[0]?.destination_host ?? s.destination_id;

  const open = (action: SessionActionName, s: Session, from?: HTMLElement | null) =>
    setPending({ action, session: s, returnFocus: from ?? (document.activeElement as HTMLElement | null) });

  const rowActions = (s: Session): IAction[] =>
    ACTION_ORDER.flatMap((a, i) => {
      // A role that is not enough says so first; then what the session's status allows.
      const needs = gate.why(ACTION_ROLE[a]);
      const av = needs ? { mode: 'no' as const, reason: needs } : availability(a, s);
      const item: IAction = {
        title: ACTION_LABEL[a],
        isAriaDisabled: av.mode === 'no',
        tooltipProps: av.mode === 'no' && av.reason ? { content: av.reason } : undefined,
        description: av.mode === 'no' ? av.reason : av.mode === 'force' ? 'Needs Force' : undefined,
        isDanger: a === 'remove',
        onClick: () => {
          if (av.mode === 'no') return;
          open(a, s, document.querySelector<HTMLElement>(`[data-session-toggle="${s.id}"]`));
        },
      };
      // Lifecycle, then removal, then the rest.
      return i === 4 || i === 5 ? [{ isSeparator: true }, item] : [item];
    });

  const list = sessions.data ?? [];
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <RoleButton needed="admin" variant="primary" onClick={() => setCreating(true)}>New</RoleButton>
          </ToolbarItem>
          <ToolbarItem variant="pagination">
            {list.length} {list.length === 1 ? 'session' : 'sessions'}
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {notice && (
        <Alert variant={notice.warnings.length ? 'warning' : 'success'} isInline title={notice.title}
          timeout={notice.warnings.length ? false : 10000} onTimeout={() => setNotice(null)}
          actionClose={<AlertActionCloseButton onClose={() => setNotice(null)} />}>
          {notice.warnings.map((w) => <div key={w}><TimeText text={w} /></div>)}
        </Alert>
      )}
      <ErrorAlert error={sessions.error} title="Could not list the sessions" />
      {!sessions.data && sessions.loading && <Spinner size="lg" aria-label="Loading sessions" />}
      {sessions.data && list.length === 0 && (
        <EmptyState>
          <EmptyStateHeader titleText="No geo-replication sessions" headingLevel="h2" icon={<EmptyStateIcon icon={CubesIcon} />} />
          <EmptyStateBody>{volume.name} is not replicated anywhere yet. “New” creates a session to a destination.</EmptyStateBody>
        </EmptyState>
      )}
      {list.length > 0 && (
        <Table aria-label="Geo-replication sessions" variant="compact">
          <Thead>
            <Tr>
              <Th screenReaderText="Nodes" />
              <Th modifier="wrap">Destination host</Th>
              <Th modifier="wrap">Destination volume</Th>
              <Th modifier="wrap">User</Th>
              <Th modifier="wrap">Status</Th>
              <Th modifier="wrap">Crawl status</Th>
              <Th modifier="wrap">Last synced</Th>
              <Th modifier="wrap">Lag</Th>
              <Th modifier="wrap">Throughput</Th>
              <Th modifier="wrap">Session</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          {list.map((s, rowIndex) => {
            const isOpen = expanded.has(s.id);
            const synced = sessionLastSynced(s);
            const lag = sessionLag(s);
            const throughput = sessionThroughput(s);
            return (
              <Tbody key={s.id} isExpanded={isOpen}>
                <Tr data-session-id={s.id}>
                  <Td expand={{
                    rowIndex, isExpanded: isOpen,
                    onToggle: () => setExpanded((e) => {
                      const n = new Set(e);
                      if (n.has(s.id)) n.delete(s.id);
                      else n.add(s.id);
                      return n;
                    }),
                    expandId: `session-nodes-${s.id}`,
                  }} />
                  <Td dataLabel="Destination host">{hostOf(s)}</Td>
                  <Td dataLabel="Destination volume">{s.destination_volume}</Td>
                  <Td dataLabel="User">{s.remote_user}</Td>
                  <Td dataLabel="Status"><SessionStatusLabel status={s.status} reason={s.status_reason} alerts={s.alerts} /></Td>
                  <Td dataLabel="Crawl status">{crawlSummary(s.nodes)}</Td>
                  <Td dataLabel="Last synced"><Time iso={synced} /></Td>
                  <Td dataLabel="Lag">{formatLag(lag)}</Td>
                  <Td dataLabel="Throughput">{formatRate(throughput)}</Td>
                  <Td dataLabel="Session">
                    {/* Names the row's expand toggle (PatternFly labels it by "simple-node<row>"). */}
                    <span id={`simple-node${rowIndex}`} className="pf-v5-screen-reader">Nodes of {s.session_key}</span>
                    <Link to={`/sessions/${encodeURIComponent(s.id)}`}>{s.session_key}</Link></Td>
                  <Td isActionCell>
                    <RowActions label={s.session_key} items={rowActions(s)} toggleProps={{ 'data-session-toggle': s.id }} />
                  </Td>
                </Tr>
                <Tr isExpanded={isOpen}>
                  <Td colSpan={11}>
                    <ExpandableRowContent>
                      <Table aria-label={`Nodes of ${s.session_key}`} variant="compact" borders={false}>
                        <Thead>
                          <Tr>
                            <Th modifier="wrap">Source</Th>
                            <Th modifier="wrap">Destination host</Th>
                            <Th modifier="wrap">Status</Th>
                            <Th modifier="wrap">Crawl status</Th>
                            <Th modifier="wrap">Last synced</Th>
                            <Th modifier="wrap">Lag</Th>
                            <Th modifier="wrap">Throughput</Th>
                          </Tr>
                        </Thead>
                        <Tbody>
                          {(s.nodes ?? []).map((n) => (
                            <Tr key={`${n.source_host}:${n.source_brick}`}>
                              <Td dataLabel="Source">{n.source_host}:{n.source_brick} →</Td>
                              <Td dataLabel="Destination host">{n.destination_host}</Td>
                              <Td dataLabel="Status"><SessionStatusLabel status={n.status} reason={n.status_reason} /></Td>
                              <Td dataLabel="Crawl status">{n.crawl_status}</Td>
                              <Td dataLabel="Last synced"><Time iso={n.last_synced} /></Td>
                              <Td dataLabel="Lag">{formatLag(n.lag_seconds)}</Td>
                              <Td dataLabel="Throughput">{formatRate(n.throughput_bytes_per_second)}</Td>
                            </Tr>
                          ))}
                          {(s.nodes ?? []).length === 0 && (
                            <Tr><Td colSpan={7}>No node status reported yet.</Td></Tr>
                          )}
                        </Tbody>
                      </Table>
                    </ExpandableRowContent>
                  </Td>
                </Tr>
              </Tbody>
            );
          })}
        </Table>
      )}
      {creating && (
        <NewSessionModal volume={volume} clusterName={clusterName} onClose={() => setCreating(false)}
          onCreated={(s) => {
            merge(s);
            setNotice({ title: `Session ${s.session_key} created`, warnings: s.warnings ?? [] });
          }} />
      )}
      <SessionActionDialogs pending={pending} volumeKind={volume.kind}
        destinationHost={pending ? hostOf(pending.session) : undefined}
        onClose={() => setPending(null)} onUpdated={merge} onRemoved={drop} />
    </>
  );
}
