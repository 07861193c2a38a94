// The firing alerts: a badge in the masthead (how many nobody has acknowledged; red while one of
// them is critical) and a notification drawer listing them, worst first, each with what is
// wrong, since when, a link to its session and -- for operators -- Acknowledge. Read from
// GET /api/v1/alerts?state=firing, and again whenever the live stream tells of an alert event
// (alert.firing, alert.resolved, alert.acknowledge) or asks for a resync. Each alert's
// "Messages sent" shows what its notifiers were sent about it, and how that went.
import { useCallback, useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import {
  Button, EmptyState, EmptyStateBody, EmptyStateHeader, NotificationBadge, NotificationDrawer,
  NotificationDrawerBody, NotificationDrawerHeader, NotificationDrawerList, NotificationDrawerListItem,
  NotificationDrawerListItemBody, NotificationDrawerListItemHeader,
} from '@patternfly/react-core';
import { api, type Alert } from '../api';
import { useLiveEvents } from '../live';
import { RoleButton } from '../role';
import { errorText, Time, TimeText } from '../util';
import { AlertDeliveriesModal } from './notify/Deliveries';

const RANK: Record<Alert['severity'], number> = { critical: 0, warning: 1 };

// `enabled`: logged in (nothing is read before).
export function useFiringAlerts(enabled: boolean) {
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      const all = await api.alerts({ state: 'firing', limit: 1000 });
      all.sort((a, b) => RANK[a.severity] - RANK[b.severity] || b.id - a.id);
      setAlerts(all);
      setError(null);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);
  useEffect(() => {
    if (enabled) void load();
    else setAlerts([]);
  }, [enabled, load]);
  useLiveEvents(['audit'], (type, ev) => {
    const action = (ev as { action?: string } | null)?.action ?? '';
    if (enabled && (type === 'resync' || action.startsWith('alert.'))) void load();
  });
  return { alerts, error, reload: load };
}

export function AlertBadge({ alerts, expanded, onToggle }: { alerts: Alert[]; expanded: boolean; onToggle: () => void }) {
  const open = alerts.filter((a) => !a.acknowledged_at);
  const critical = open.some((a) => a.severity === 'critical');
  const label =
    alerts.length === 0
      ? 'Alerts: none firing'
      : `Alerts: ${alerts.length} firing, ${open.length} not acknowledged${critical ? ', critical among them' : ''}`;
  return (
    <NotificationBadge
      variant={open.length === 0 ? 'read' : critical ? 'attention' : 'unread'}
      count={open.length}
      onClick={onToggle}
      aria-label={label}
      aria-expanded={expanded}
      isExpanded={expanded}
    />
  );
}

function objectLink(a: Alert) {
  if (a.object_type === 'session') return <Link to={`/sessions/${encodeURIComponent(a.object_id)}`}>{a.object_name}</Link>;
  return <span>{a.object_name}</span>;
}

export function AlertDrawer({ alerts, error, onClose, reload }: {
  alerts: Alert[]; error: string | null; onClose: () => void; reload: () => Promise<void>;
}) {
  const [acting, setActing] = useState<number | null>(null);
  const [actError, setActError] = useState<string | null>(null);
  const [deliveriesOf, setDeliveriesOf] = useState<Alert | null>(null);
  const open = alerts.filter((a) => !a.acknowledged_at).length;
  const acknowledge = async (id: number) => {
    setActing(id);
    setActError(null);
    try {
      await api.acknowledgeAlert(id);
      await reload();
    } catch (e) {
      setActError(errorText(e));
    } finally {
      setActing(null);
    }
  };
  return (
    <NotificationDrawer>
      <NotificationDrawerHeader title="Alerts" count={open} unreadText="not acknowledged" onClose={onClose} />
      <NotificationDrawerBody>
        {(error || actError) && <p className="georep-drawer-error" role="alert">{error ?? actError}</p>}
        {alerts.length === 0 ? (
          <EmptyState variant="xs">
            <EmptyStateHeader titleText="No alert is firing" headingLevel="h2" />
            <EmptyStateBody>Every session and destination is as it should be.</EmptyStateBody>
          </EmptyState>
        ) : (
          <NotificationDrawerList aria-label="Firing alerts">
            {alerts.map((a) => (
              <NotificationDrawerListItem key={a.id} variant={a.severity === 'critical' ? 'danger' : 'warning'} isRead={!!a.acknowledged_at}>
                <NotificationDrawerListItemHeader
                  variant={a.severity === 'critical' ? 'danger' : 'warning'}
                  title={`${a.rule} on ${a.object_name}`}
                  srTitle={`${a.severity} alert:`}
                  headingLevel="h3"
                />
                <NotificationDrawerListItemBody
                  timestamp={<>since <Time iso={a.started_at} show="both" /></>}
                >
                  <div><TimeText text={a.summary} /></div>
                  <div className="georep-drawer-object">
                    {a.object_type}: {objectLink(a)}
                  </div>
                  {a.acknowledged_at ? (
                    <div className="georep-drawer-ack">
                      Acknowledged by {a.acknowledged_by} <Time iso={a.acknowledged_at} />
                    </div>
                  ) : (
                    <RoleButton
                      needed="operator"
                      variant="link"
                      isInline
                      isLoading={acting === a.id}
                      onClick={() => void acknowledge(a.id)}
                      aria-label={`Acknowledge ${a.rule} on ${a.object_name}`}
                    >
                      Acknowledge
                    </RoleButton>
                  )}
                  <div>
                    <Button variant="link" isInline onClick={() => setDeliveriesOf(a)}
                      aria-label={`Messages sent about ${a.rule} on ${a.object_name}`}>
                      Messages sent
                    </Button>
                  </div>
                </NotificationDrawerListItemBody>
              </NotificationDrawerListItem>
            ))}
          </NotificationDrawerList>
        )}
      </NotificationDrawerBody>
      {deliveriesOf && (
        <AlertDeliveriesModal alert={deliveriesOf} onClose={() => setDeliveriesOf(null)} />
      )}
    </NotificationDrawer>
  );
}
