// Events: the engine's audit trail, newest first, filtered by object type, action prefix, object
// id and result (all by the engine, a page at a time). New events arrive live from the stream; the filters are
// in the URL so a filtered view can be linked to.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import {
  Button, EmptyState, EmptyStateActions, EmptyStateBody, EmptyStateFooter, EmptyStateHeader, FormSelect,
  FormSelectOption, Label, PageSection, Spinner, TextInput, Title, Toolbar, ToolbarContent, ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import FilterIcon from '@patternfly/react-icons/dist/esm/icons/filter-icon';
import { api, type AuditEvent } from '../api';
import { clusterApi } from '../apiClusters';
import { useLiveEvents, usePollWhileOffline } from '../live';
import { ErrorAlert, errorText, Time, TimeText } from '../util';

const OBJECT_TYPES = ['cluster', 'host', 'volume', 'destination', 'session', 'user', 'token'];
const PAGE = 100;
const MAX = 1000; // the engine's largest page

interface Filters { object_type: string; action: string; object_id: string; result: string }

function matches(e: AuditEvent, f: Filters) {
  return (
    (!f.object_type || e.object_type === f.object_type) &&
    (!f.object_id || e.object_id === f.object_id) &&
    (!f.action || e.action.startsWith(f.action)) &&
    (!f.result || e.result === f.result)
  );
}

export function EventsPage() {
  const [params, setParams] = useSearchParams();
  const applied: Filters = {
    object_type: params.get('object_type') ?? '',
    action: params.get('action') ?? '',
    object_id: params.get('object_id') ?? '',
    result: params.get('result') ?? '',
  };
  // The text filters as typed; they reach the URL (and the engine) after a short pause.
  const [actionText, setActionText] = useState(applied.action);
  const [idText, setIdText] = useState(applied.object_id);

  const setFilter = useCallback(
    (patch: Partial<Filters>) => {
      setParams(
        (cur) => {
          const next = new URLSearchParams(cur);
          for (const [k, v] of Object.entries(patch)) {
            if (v) next.set(k, v);
            else next.delete(k);
          }
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );
  // Only text that differs from the URL: a filter set at once (a row's filter button, Clear) must
  // not be written again 300 ms later -- by then the user may have followed a link away, and the
  // late write would bring them back to this page.
  // Runs when the text changes, not when the URL does (Back keeps the URL's filter).
  const appliedRef = useRef(applied);
  appliedRef.current = applied;
  useEffect(() => {
    const action = actionText.trim();
    const objectId = idText.trim();
    if (action === appliedRef.current.action && objectId === appliedRef.current.object_id) return;
    const t = setTimeout(() => setFilter({ action, object_id: objectId }), 300);
    return () => clearTimeout(t);
  }, [actionText, idText, setFilter]);

  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const serverKey = `${applied.object_type}|${applied.action}|${applied.object_id}|${applied.result}`;
  const filtersRef = useRef(applied);
  filtersRef.current = applied;
  const gen = useRef(0);
  const query = (f: Filters) => ({
    object_type: f.object_type, action: f.action, object_id: f.object_id, result: f.result,
  });

  // The engine answers newest first, a page at a time; "Load more" asks for the page before
  // the oldest row shown (before_id).
  const loadPage = (before: number, replace: boolean) => {
    const mine = ++gen.current;
    const ctl = new AbortController();
    setLoading(true);
    api
      .events({ limit: PAGE, before_id: before || undefined, ...query(filtersRef.current) }, ctl.signal)
      .then(
        (items) => {
          if (mine !== gen.current) return;
          setEvents((cur) => (replace ? items : [...cur, ...items.filter((e) => !cur.some((c) => c.id === e.id))]));
          setMore(items.length === PAGE);
          setError(null);
          setLoading(false);
        },
        (e: unknown) => {
          if (mine !== gen.current || (e as Error).name === 'AbortError') return;
          setError(errorText(e));
          setLoading(false);
        },
      );
    return () => ctl.abort();
  };
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => loadPage(0, true), [serverKey]);
  const loadMore = () => {
    const oldest = events.reduce((m, e) => Math.min(m, e.id), Number.MAX_SAFE_INTEGER);
    if (oldest !== Number.MAX_SAFE_INTEGER) loadPage(oldest, false);
  };

  // Whatever is newer than the newest row (after the stream was down, or while it is).
  const eventsRef = useRef(events);
  eventsRef.current = events;
  const catchUp = useCallback(() => {
    const f = filtersRef.current;
    const newest = eventsRef.current.reduce((m, e) => Math.max(m, e.id), 0);
    if (newest === 0) return;
    api.events({ after_id: newest, limit: MAX, ...query(f) }).then(
      (items) => {
        if (items.length) prepend(items);
      },
      () => {
        /* the next catch-up tries again */
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const prepend = (items: AuditEvent[]) =>
    setEvents((cur) => {
      const have = new Set(cur.map((e) => e.id));
      const fresh = items.filter((e) => !have.has(e.id));
      if (!fresh.length) return cur;
      return [...fresh, ...cur].sort((a, b) => b.id - a.id);
    });

  useLiveEvents(['audit'], (type, data) => {
    if (type === 'resync') return catchUp();
    const e = data as AuditEvent;
    const f = filtersRef.current;
    // Only what is newer than the newest row: an older event the stream delivers late (the
    // engine busy, or this page loaded after it happened) is already shown, or belongs to the
    // pages behind "Load more" -- prepending it would break the page's window.
    const newest = eventsRef.current.reduce((m, x) => Math.max(m, x.id), 0);
    if (e && typeof e.id === 'number' && e.id > newest && matches(e, f)) prepend([e]);
  });
  usePollWhileOffline(catchUp, 5000);

  const shown = events;
  const anyFilter = !!(applied.object_type || applied.action || applied.object_id || applied.result);
  const clear = () => {
    setActionText('');
    setIdText('');
    setFilter({ object_type: '', action: '', object_id: '', result: '' });
  };

  return (
    <>
      <PageSection variant="light">
        <Title headingLevel="h1">Events</Title>
        <p className="pf-v5-u-color-200">Everything done through the engine, by whom, and how it ended; newest first.</p>
      </PageSection>
      <PageSection>
        <Toolbar aria-label="Event filters" clearAllFilters={clear}>
          <ToolbarContent>
            <ToolbarGroup variant="filter-group">
              <ToolbarItem>
                <FormSelect
                  aria-label="Object type"
                  value={applied.object_type}
                  onChange={(_e, v) => setFilter({ object_type: v })}
                >
                  <FormSelectOption value="" label="All object types" />
                  {OBJECT_TYPES.map((t) => (
                    <FormSelectOption key={t} value={t} label={t} />
                  ))}
                </FormSelect>
              </ToolbarItem>
              <ToolbarItem>
                <TextInput
                  aria-label="Action prefix"
                  placeholder="Action, e.g. session."
                  value={actionText}
                  onChange={(_e, v) => setActionText(v)}
                />
              </ToolbarItem>
              <ToolbarItem>
                <TextInput aria-label="Object ID" placeholder="Object ID" value={idText} onChange={(_e, v) => setIdText(v)} />
              </ToolbarItem>
              <ToolbarItem>
                <FormSelect aria-label="Result" value={applied.result} onChange={(_e, v) => setFilter({ result: v })}>
                  <FormSelectOption value="" label="All results" />
                  <FormSelectOption value="ok" label="ok" />
                  <FormSelectOption value="failed" label="failed" />
                </FormSelect>
              </ToolbarItem>
            </ToolbarGroup>
            <ToolbarItem>
              <Button variant="link" onClick={clear} isDisabled={!anyFilter && !actionText && !idText}>
                Clear filters
              </Button>
            </ToolbarItem>
            {loading && (
              <ToolbarItem>
                <Spinner size="md" aria-label="Loading events" />
              </ToolbarItem>
            )}
            <ToolbarItem align={{ default: 'alignRight' }}>
              <span className="pf-v5-u-color-200">
                {shown.length} event{shown.length === 1 ? '' : 's'}
              </span>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <ErrorAlert error={error} title="The events could not be loaded" />
        {!loading && shown.length === 0 && !error ? (
          <EmptyState>
            <EmptyStateHeader titleText={anyFilter ? 'No events match the filters' : 'No events yet'} headingLevel="h2" />
            <EmptyStateBody>{anyFilter ? 'Change or clear the filters.' : 'Actions done through the engine appear here.'}</EmptyStateBody>
            {anyFilter && (
              <EmptyStateFooter>
                <EmptyStateActions>
                  <Button variant="link" onClick={clear}>
                    Clear all filters
                  </Button>
                </EmptyStateActions>
              </EmptyStateFooter>
            )}
          </EmptyState>
        ) : (
          <Table aria-label="Events" variant="compact">
            <Thead>
              <Tr>
                <Th width={15} info={{ tooltip: 'In your local time zone; hover a time for its zone' }}>Time</Th>
                <Th width={10}>Actor</Th>
                <Th width={15}>Action</Th>
                <Th width={20}>Object</Th>
                <Th width={10}>Result</Th>
                <Th>Message</Th>
              </Tr>
            </Thead>
            <Tbody>
              {shown.map((e) => (
                <Tr key={e.id}>
                  <Td dataLabel="Time">
                    <Time iso={e.at} show="local" />
                  </Td>
                  <Td dataLabel="Actor">{e.actor}</Td>
                  <Td dataLabel="Action">
                    <code>{e.action}</code>
                  </Td>
                  <Td dataLabel="Object">
                    <ObjectRef type={e.object_type} id={e.object_id} onFilter={() => {
                      setIdText(e.object_id);
                      setFilter({ object_type: e.object_type, object_id: e.object_id });
                    }} />
                  </Td>
                  <Td dataLabel="Result">
                    <Label color={e.result === 'ok' ? 'green' : e.result === 'failed' ? 'red' : 'grey'}>{e.result}</Label>
                  </Td>
                  <Td dataLabel="Message" className="georep-event-message">
                    <TimeText text={e.message} />
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
        {more && (
          <div className="pf-v5-u-mt-md pf-v5-u-text-align-center">
            <Button variant="secondary" onClick={loadMore} isDisabled={loading}>
              Load more
            </Button>
          </div>
        )}
      </PageSection>
    </>
  );
}

// Where an object's page is: sessions, volumes and clusters have their own; a destination's
// and a host's are tabs of their cluster, found by asking the engine once per object.
const clusterOf = new Map<string, Promise<string | null>>();
function resolveCluster(type: string, id: string): Promise<string | null> {
  const key = `${type}:${id}`;
  let p = clusterOf.get(key);
  if (!p) {
    p =
      type === 'destination'
        ? api.destination(id).then((d) => d.source_cluster_id, () => null)
        : clusterApi.host(id).then((h) => h.cluster_id, () => null);
    clusterOf.set(key, p);
  }
  return p;
}

function ObjectRef({ type, id, onFilter }: { type: string; id: string; onFilter: () => void }) {
  const [href, setHref] = useState<string | null>(() =>
    !id ? null : type === 'session' ? `/sessions/${id}` : type === 'volume' ? `/volumes/${id}` : type === 'cluster' ? `/clusters/${id}` : null,
  );
  useEffect(() => {
    if (!id || (type !== 'destination' && type !== 'host')) return;
    let live = true;
    resolveCluster(type, id).then((c) => {
      if (live && c) setHref(`/clusters/${c}/${type === 'destination' ? 'destinations' : 'hosts'}`);
    });
    return () => {
      live = false;
    };
  }, [type, id]);
  const short = id.length > 13 ? `${id.slice(0, 8)}…` : id;
  return (
    <span>
      {type || '—'}{' '}
      {id &&
        (href ? (
          <Link to={href} title={id} aria-label={`${type} ${id}`}>
            {short}
          </Link>
        ) : (
          <span title={id}>{short}</span>
        ))}
      {id && (
        <Button variant="plain" size="sm" aria-label={`Only events of ${type} ${id}`} onClick={onFilter} className="pf-v5-u-py-0">
          <FilterIcon />
        </Button>
      )}
    </span>
  );
}
