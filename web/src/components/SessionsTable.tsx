// Geo-replication sessions as a table: a volume's (its Geo-Replication Sessions tab, with New
// session), or every session (the Sessions page, with a source volume column). One row per
// session (expandable into one line per node), sortable, filtered by text and by status (the
// status in the URL, so other pages can link to "the Faulty sessions"), per-row actions enabled
// by the engine's rules, bulk start / stop / pause / resume of the selected rows, live updates.
import { useCallback, useMemo, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import {
  Alert, AlertActionCloseButton, Button, Checkbox, EmptyState, EmptyStateActions, EmptyStateBody, EmptyStateFooter,
  EmptyStateHeader, EmptyStateIcon, FormSelect, FormSelectOption, Pagination, SearchInput, Spinner, Toolbar,
  ToolbarContent, ToolbarGroup, ToolbarItem,
} from '@patternfly/react-core';
import CubesIcon from '@patternfly/react-icons/dist/esm/icons/cubes-icon';
import { ExpandableRowContent, Table, Tbody, Td, Th, Thead, Tr, type IAction, type ThProps } from '@patternfly/react-table';
import { api, type Destination, type Session, type Volume } from '../api';
import { useLiveEvents, usePollWhileOffline } from '../live';
import { ErrorAlert, formatLag, formatRate, Time, TimeText, useAsync } from '../util';
import { ExplainedButton, RoleButton, useRole } from '../role';
import { allDestinations } from '../fleet';
import {
  ACTION_LABEL, ACTION_ORDER, ACTION_ROLE, asSession, availability, BULK_ACTIONS, bulkPlan, crawlSummary, isSessionStatus,
  mergeSession, removedId, sessionLag, sessionLastSynced, sessionThroughput, statusRank, STATUSES_WORST_FIRST,
  type BulkActionName, type BulkPlan, type SessionActionName,
} from './sessionModel';
import { SessionStatusLabel } from './SessionStatus';
import { RowActions } from './common';
import { SessionActionDialogs, type PendingAction } from './SessionActionDialogs';
import { BulkActionModal } from './SessionBulkActions';
import { NewSessionModal } from './NewSessionModal';

// What the rows need beyond the sessions: the destinations (their hosts) and the volumes (names).
interface Context { destinations: Destination[]; volumes: Volume[] }

type SortKey = 'session' | 'source' | 'host' | 'destination' | 'status' | 'synced' | 'lag';
type Sort = { key: SortKey; dir: 'asc' | 'desc' };

const time = (iso: string | null) => (iso ? new Date(iso).getTime() : null);

// Compares two values; unknown ones (null) go last whichever the direction.
function compare(a: string | number | null, b: string | number | null, dir: 'asc' | 'desc'): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  const c = typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
  return dir === 'asc' ? c : -c;
}

// `volume`: that volume's sessions (with New session); without it, every session.
export function SessionsTable({ volume, clusterName = '' }: { volume?: Volume; clusterName?: string }) {
  const volumeId = volume?.id;
  const sessions = useAsync((s) => (volume ? api.volumeSessions(volume.id, s) : api.sessions(s)), [volumeId]);
  const context = useAsync<Context>(async (s) => {
    if (volume) return { destinations: await api.destinations(volume.cluster_id, s), volumes: [volume] };
    const [destinations, volumes] = await Promise.all([allDestinations(s), api.volumes(s)]);
    return { destinations, volumes };
  }, [volumeId]);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [pending, setPending] = useState<PendingAction | null>(null);
  // The bulk action's plan is fixed when its dialog opens: the dialog names what it will do.
  const [bulk, setBulk] = useState<{ action: BulkActionName; plan: BulkPlan } | null>(null);
  const [creating, setCreating] = useState(false);
  const [notice, setNotice] = useState<{ title: string; warnings: string[] } | null>(null);
  const [params, setParams] = useSearchParams();
  const [text, setText] = useState(params.get('q') ?? '');
  const [sort, setSort] = useState<Sort>({ key: 'status', dir: 'asc' });
  const [page, setPage] = useState(1);
  const [perPage, setPerPage] = useState(50);
  const [, setTick] = useState(0);
  const gate = useRole();
  const navigate = useNavigate();
  const statusParam = params.get('status');
  const status = isSessionStatus(statusParam) ? statusParam : '';

  const { setData, reload } = sessions;
  const merge = useCallback((s: Session) => setData((list) => mergeSession(list ?? [], s)), [setData]);
  const drop = useCallback((id: string) => setData((list) => (list ?? []).filter((x) => x.id !== id)), [setData]);

  useLiveEvents(['session', 'session_removed', 'destination', 'destination_removed'], (type, data) => {
    if (type === 'resync') {
      reload();
      context.reload();
    } else if (type === 'session') {
      const s = asSession(data);
      if (s && (!volumeId || s.source_volume_id === volumeId)) merge(s);
      setTick((t) => t + 1); // "n s ago" moves on
    } else if (type === 'session_removed') {
      const id = removedId(data);
      if (id) drop(id);
    } else {
      context.reload();
    }
  });
  const poll = useCallback(() => {
    reload();
  }, [reload]);
  usePollWhileOffline(poll);

  const hostOf = (s: Session) =>
    context.data?.destinations.find((d) => d.id === s.destination_id)?.host ?? s.nodes?.[0]?.destination_host ?? s.destination_id;
  const sourceOf = (s: Session) => context.data?.volumes.find((v) => v.id === s.source_volume_id);
  const nameOf = (s: Session) => `${sourceOf(s)?.name ?? s.source_volume_id} → ${hostOf(s)}::${s.destination_volume}`;

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

  const setStatus = (v: string) => {
    setPage(1);
    setParams((cur) => {
      const next = new URLSearchParams(cur);
      if (v) next.set('status', v);
      else next.delete('status');
      return next;
    }, { replace: true });
  };

  const all = sessions.data ?? [];
  const rows = useMemo(() => {
    const f = text.trim().toLowerCase();
    const shown = all.filter((s) => (!status || s.status === status) && (!f ||
      [s.session_key, sourceOf(s)?.name ?? '', hostOf(s), s.destination_volume, s.status]
        .some((x) => x.toLowerCase().includes(f))));
    const value = (s: Session): string | number | null => {
      switch (sort.key) {
        case 'session': return s.session_key;
        case 'source': return sourceOf(s)?.name ?? s.source_volume_id;
        case 'host': return hostOf(s);
        case 'destination': return s.destination_volume;
        case 'status': return statusRank(s.status);
        case 'synced': return time(sessionLastSynced(s));
        case 'lag': return sessionLag(s);
      }
    };
    return shown.sort((a, b) => compare(value(a), value(b), sort.dir) || a.session_key.localeCompare(b.session_key));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [all, context.data, text, status, sort]);
  const pageRows = rows.slice((page - 1) * perPage, page * perPage);
  const chosen = all.filter((s) => selected.has(s.id));
  const shownChosen = pageRows.filter((s) => selected.has(s.id)).length;

  const keys: SortKey[] = ['session', 'source', 'host', 'destination', 'status', 'synced', 'lag'];
  const sortBy = (key: SortKey): ThProps['sort'] => ({
    sortBy: { index: keys.indexOf(sort.key), direction: sort.dir },
    onSort: (_e, _i, dir) => setSort({ key, dir }),
    columnIndex: keys.indexOf(key),
  });
  const toggle = (set: Set<string>, id: string, on: boolean) => {
    const n = new Set(set);
    if (on) n.add(id);
    else n.delete(id);
    return n;
  };
  const selectShown = (on: boolean) =>
    setSelected((cur) => pageRows.reduce((acc, s) => toggle(acc, s.id, on), cur));

  // A bulk action is offered when the role allows it and one selected session at least takes it.
  const bulkWhy = (a: BulkActionName): string | undefined => {
    const needs = gate.why(ACTION_ROLE[a]);
    if (needs) return needs;
    if (chosen.length === 0) return 'Select sessions first';
    if (bulkPlan(a, chosen).targets.length === 0) return `None of the selected sessions can be ${a === 'stop' ? 'stopped' : `${a}d`} now`;
    return undefined;
  };

  // The list of every session leaves the user, crawl status and throughput to each session's
  // page (and its expanded row), so that it fits a screen.
  const columns = volume ? 12 : 10;
  const filtered = !!status || text.trim() !== '';
  const clearFilters = () => {
    setText('');
    setStatus('');
  };
  return (
    <>
      <Toolbar aria-label="Session filters and actions" clearAllFilters={clearFilters}>
        <ToolbarContent>
          {volume && (
            <ToolbarItem>
              <RoleButton needed="admin" variant="primary" onClick={() => setCreating(true)}>New</RoleButton>
            </ToolbarItem>
          )}
          <ToolbarItem variant="search-filter">
            <SearchInput aria-label="Filter sessions" placeholder="Filter by session, volume or host" value={text}
              onChange={(_e, v) => { setText(v); setPage(1); }} onClear={() => { setText(''); setPage(1); }} />
          </ToolbarItem>
          <ToolbarItem>
            <FormSelect aria-label="Status" value={status} onChange={(_e, v) => setStatus(v)} className="georep-status-filter">
              <FormSelectOption value="" label="Any status" />
              {STATUSES_WORST_FIRST.map((st) => <FormSelectOption key={st} value={st} label={st} />)}
            </FormSelect>
          </ToolbarItem>
          <ToolbarGroup variant="button-group" role="group" aria-label="Bulk actions on the selected sessions">
            {BULK_ACTIONS.map((a) => (
              <ToolbarItem key={a}>
                <ExplainedButton variant="secondary" why={bulkWhy(a)} onClick={() => setBulk({ action: a, plan: bulkPlan(a, chosen) })}>{ACTION_LABEL[a]}</ExplainedButton>
              </ToolbarItem>
            ))}
          </ToolbarGroup>
          <ToolbarItem>
            <span aria-live="polite">{chosen.length > 0 ? `${chosen.length} selected` : ''}</span>
          </ToolbarItem>
          <ToolbarItem variant="pagination">
            <span className="georep-count">{filtered ? `${rows.length} of ${all.length}` : all.length} {all.length === 1 ? 'session' : 'sessions'}</span>
            <Pagination itemCount={rows.length} perPage={perPage} page={page} isCompact
              onSetPage={(_e, p) => setPage(p)} onPerPageSelect={(_e, pp) => { setPerPage(pp); setPage(1); }}
              titles={{ paginationAriaLabel: 'Sessions pages' }} />
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
      {sessions.data && all.length === 0 && (volume ? (
        <EmptyState>
          <EmptyStateHeader titleText="No geo-replication sessions" headingLevel="h2" icon={<EmptyStateIcon icon={CubesIcon} />} />
          <EmptyStateBody>{volume.name} is not replicated anywhere yet. “New” creates a session to a destination.</EmptyStateBody>
        </EmptyState>
      ) : (
        <EmptyState>
          <EmptyStateHeader titleText="No geo-replication sessions yet" headingLevel="h2" icon={<EmptyStateIcon icon={CubesIcon} />} />
          <EmptyStateBody>
            A session replicates a volume to a destination. Open a volume and create one with “New” on its
            Geo-Replication Sessions tab (its cluster needs a destination first: a cluster&apos;s Destinations tab).
          </EmptyStateBody>
          <EmptyStateFooter>
            <EmptyStateActions>
              <Button variant="primary" onClick={() => navigate('/volumes')}>Go to Volumes</Button>
            </EmptyStateActions>
          </EmptyStateFooter>
        </EmptyState>
      ))}
      {all.length > 0 && (
        <Table aria-label={volume ? 'Geo-replication sessions' : 'Sessions'} variant="compact" className={volume ? undefined : 'georep-sessions-all'}>
          <Thead>
            <Tr>
              <Th aria-label="Selection">
                <Checkbox id={`sessions-select-shown-${volumeId ?? 'all'}`} aria-label="Select all shown sessions"
                  isChecked={pageRows.length > 0 && shownChosen === pageRows.length ? true : shownChosen > 0 ? null : false}
                  isDisabled={pageRows.length === 0}
                  onChange={(_e, on) => selectShown(on)} />
              </Th>
              <Th screenReaderText="Nodes" />
              <Th modifier="wrap" sort={sortBy('session')}>Session</Th>
              {!volume && <Th modifier="wrap" sort={sortBy('source')}>Source volume</Th>}
              <Th modifier="wrap" sort={sortBy('host')}>Destination host</Th>
              <Th modifier="wrap" sort={sortBy('destination')}>Destination volume</Th>
              {volume && <Th modifier="wrap">User</Th>}
              <Th modifier="wrap" sort={sortBy('status')}>Status</Th>
              {volume && <Th modifier="wrap">Crawl status</Th>}
              <Th modifier="wrap" sort={sortBy('synced')}>Last synced</Th>
              <Th modifier="wrap" sort={sortBy('lag')}>Lag</Th>
              {volume && <Th modifier="wrap">Throughput</Th>}
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          {pageRows.map((s, rowIndex) => {
            const isOpen = expanded.has(s.id);
            const synced = sessionLastSynced(s);
            const source = sourceOf(s);
            return (
              <Tbody key={s.id} isExpanded={isOpen}>
                <Tr data-session-id={s.id} isRowSelected={selected.has(s.id)}>
                  <Td>
                    <Checkbox id={`select-${s.id}`} aria-label={`Select ${s.session_key}`} isChecked={selected.has(s.id)}
                      onChange={(_e, on) => setSelected((cur) => toggle(cur, s.id, on))} />
                  </Td>
                  <Td expand={{
                    rowIndex, isExpanded: isOpen,
                    onToggle: () => setExpanded((e) => toggle(e, s.id, !e.has(s.id))),
                    expandId: `session-nodes-${s.id}`,
                  }} />
                  <Td dataLabel="Session">
                    {/* Names the row's expand toggle (PatternFly labels it by "simple-node<row>"). */}
                    <span id={`simple-node${rowIndex}`} className="pf-v5-screen-reader">Nodes of {s.session_key}</span>
                    <Link to={`/sessions/${encodeURIComponent(s.id)}`}>{s.session_key}</Link>
                  </Td>
                  {!volume && (
                    <Td dataLabel="Source volume">
                      {source ? <Link to={`/volumes/${encodeURIComponent(source.id)}/sessions`}>{source.name}</Link> : s.source_volume_id}
                    </Td>
                  )}
                  <Td dataLabel="Destination host">{hostOf(s)}</Td>
                  <Td dataLabel="Destination volume">{s.destination_volume}</Td>
                  {volume && <Td dataLabel="User">{s.remote_user}</Td>}
                  <Td dataLabel="Status"><SessionStatusLabel status={s.status} reason={s.status_reason} alerts={s.alerts} /></Td>
                  {volume && <Td dataLabel="Crawl status">{crawlSummary(s.nodes)}</Td>}
                  <Td dataLabel="Last synced"><Time iso={synced} /></Td>
                  <Td dataLabel="Lag">{formatLag(sessionLag(s))}</Td>
                  {volume && <Td dataLabel="Throughput">{formatRate(sessionThroughput(s))}</Td>}
                  <Td isActionCell>
                    <RowActions label={s.session_key} items={rowActions(s)} toggleProps={{ 'data-session-toggle': s.id }} />
                  </Td>
                </Tr>
                <Tr isExpanded={isOpen}>
                  <Td colSpan={columns}>
                    <ExpandableRowContent>
                      <NodesTable session={s} />
                    </ExpandableRowContent>
                  </Td>
                </Tr>
              </Tbody>
            );
          })}
          {rows.length === 0 && (
            <Tbody>
              <Tr>
                <Td colSpan={columns}>
                  No session matches the filters. {filtered && <Button variant="link" isInline onClick={clearFilters}>Clear the filters</Button>}
                </Td>
              </Tr>
            </Tbody>
          )}
        </Table>
      )}
      {creating && volume && (
        <NewSessionModal volume={volume} clusterName={clusterName} onClose={() => setCreating(false)}
          onCreated={(s) => {
            merge(s);
            setNotice({ title: `Session ${s.session_key} created`, warnings: s.warnings ?? [] });
          }} />
      )}
      {bulk && (
        <BulkActionModal action={bulk.action} plan={bulk.plan} nameOf={nameOf} onUpdated={merge}
          onClose={() => {
            setBulk(null);
            setSelected(new Set());
          }} />
      )}
      <SessionActionDialogs pending={pending} volumeKind={pending ? sourceOf(pending.session)?.kind : undefined}
        destinationHost={pending ? hostOf(pending.session) : undefined}
        onClose={() => setPending(null)} onUpdated={merge} onRemoved={drop} />
    </>
  );
}

function NodesTable({ session: s }: { session: Session }) {
  return (
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
  );
}
