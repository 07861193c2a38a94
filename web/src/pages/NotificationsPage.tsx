// Notifications (administrators only): the notifiers that carry the engine's alerts out -- signed
// webhooks and e-mail over SMTP -- and the alerts' thresholds. Add a notifier (a webhook's secret
// is shown once), send a test through one and see how it went, enable or disable it, read its
// delivery history, remove it; change a threshold or put it back to its default.
import { useEffect, useRef, useState } from 'react';
import {
  Button, EmptyState, EmptyStateBody, EmptyStateHeader, EmptyStateIcon, Label, PageSection, Spinner, Title, Toolbar,
  ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import LockIcon from '@patternfly/react-icons/dist/esm/icons/lock-icon';
import { api, type Delivery, type Notifier } from '../api';
import { useLiveEvents } from '../live';
import { useRole } from '../role';
import { ErrorAlert, errorText, useAsync } from '../util';
import { ConfirmRemoveModal, OutcomeAlert, RowActions, type Outcome } from '../components/common';
import { AddNotifierModal } from '../components/notify/AddNotifierModal';
import { DeliveriesModal } from '../components/notify/Deliveries';
import { AlertSettings } from '../components/notify/AlertSettings';
import '../components/tables.css';

// How long Send test waits for the engine's first attempt before pointing to the history.
const TEST_WAIT_MS = 20000;
const TEST_POLL_MS = 500;

export function NotificationsPage() {
  const { role } = useRole();
  return (
    <>
      <PageSection variant="light">
        <Title headingLevel="h1">Notifications</Title>
        <p className="pf-v5-u-color-200">
          Where georep sends its alerts when they fire and resolve: signed webhooks and e-mail. A message that cannot be
          delivered is tried again for about a day.
        </p>
      </PageSection>
      {role === null ? (
        <PageSection><Spinner aria-label="Reading your role" /></PageSection>
      ) : role !== 'admin' ? (
        <PageSection>
          <EmptyState>
            <EmptyStateHeader titleText="Admins only" headingLevel="h2" icon={<EmptyStateIcon icon={LockIcon} />} />
            <EmptyStateBody>
              Notifiers and the alerts&apos; thresholds are managed with the admin role; you are logged in as a {role}.
              The firing alerts are in the masthead&apos;s alert drawer.
            </EmptyStateBody>
          </EmptyState>
        </PageSection>
      ) : (
        <>
          <PageSection aria-labelledby="notifiers-title">
            <Title headingLevel="h2" id="notifiers-title" className="pf-v5-u-mb-sm">Notifiers</Title>
            <Notifiers />
          </PageSection>
          <PageSection aria-labelledby="thresholds-title">
            <Title headingLevel="h2" id="thresholds-title" className="pf-v5-u-mb-sm">Alert thresholds</Title>
            <AlertSettings />
          </PageSection>
        </>
      )}
    </>
  );
}

type Dialog = { kind: 'add' } | { kind: 'remove'; n: Notifier } | { kind: 'history'; n: Notifier };

// Where a notifier sends: a webhook's URL, or an e-mail notifier's recipients and server.
function Target({ n }: { n: Notifier }) {
  if (n.kind === 'webhook') return <code className="georep-fingerprint">{n.url}</code>;
  return (
    <>
      {n.mail_to}
      <div className="pf-v5-u-font-size-sm pf-v5-u-color-200">from {n.mail_from} via <code>{n.url}</code>{n.smtp_user ? ` as ${n.smtp_user}` : ''}</div>
    </>
  );
}

// What a test's delivery says so far.
function testOutcome(name: string, d: Delivery | undefined): Outcome | null {
  if (!d || (d.state === 'pending' && d.attempts === 0)) return null;
  if (d.state === 'delivered') {
    return { variant: 'success', title: `Test message delivered through ${name}`, lines: d.response_status ? [`The receiver answered HTTP ${d.response_status}.`] : [] };
  }
  const lines = [d.last_error || 'No answer.'];
  if (d.state === 'failed') return { variant: 'danger', title: `The test message through ${name} failed`, lines };
  return { variant: 'warning', title: `The test message through ${name} was not delivered yet`, lines: [...lines, 'The engine tries it again; its delivery history shows how it goes.'] };
}

function Notifiers() {
  const { data, error, loading, reload } = useAsync((s) => api.notifiers(s), []);
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [acting, setActing] = useState<string | null>(null);
  const mounted = useRef(true);
  useEffect(() => () => { mounted.current = false; }, []);
  useLiveEvents(['audit'], (type, ev) => {
    if (type === 'resync' || (ev as { object_type?: string } | null)?.object_type === 'notifier') reload();
  });
  const notifiers = [...(data ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const close = () => setDialog(null);
  const done = () => {
    setDialog(null);
    reload();
  };

  // Queues a test message, then follows its delivery until the engine's first attempt tells.
  const sendTest = async (n: Notifier) => {
    setActing(n.id);
    setOutcome({ variant: 'info', title: `Sending a test message through ${n.name}…` });
    try {
      const queued = await api.testNotifier(n.id);
      const until = Date.now() + TEST_WAIT_MS;
      for (;;) {
        const got = (await api.notifierDeliveries(n.id, undefined, 20)).find((d) => d.id === queued.id);
        const o = testOutcome(n.name, got);
        if (!mounted.current) return;
        if (o) return setOutcome(o);
        if (Date.now() > until) {
          return setOutcome({ variant: 'info', title: `The test message through ${n.name} is queued`, lines: ['Its delivery history shows when it is sent.'] });
        }
        await new Promise((r) => setTimeout(r, TEST_POLL_MS));
      }
    } catch (e) {
      if (mounted.current) setOutcome({ variant: 'danger', title: `No test message was sent through ${n.name}`, lines: [errorText(e)] });
    } finally {
      if (mounted.current) setActing(null);
    }
  };

  const setEnabled = async (n: Notifier, enabled: boolean) => {
    setActing(n.id);
    try {
      await api.changeNotifier(n.id, { enabled });
      setOutcome(null);
      reload();
    } catch (e) {
      setOutcome({ variant: 'danger', title: `${n.name} was not ${enabled ? 'enabled' : 'disabled'}`, lines: [errorText(e)] });
    } finally {
      setActing(null);
    }
  };

  return (
    <>
      <Toolbar aria-label="Notifier actions">
        <ToolbarContent>
          <ToolbarItem>
            <Button variant="primary" onClick={() => setDialog({ kind: 'add' })}>Add notifier</Button>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <OutcomeAlert outcome={outcome} onClose={() => setOutcome(null)} />
      <ErrorAlert error={error} title="The notifiers could not be listed" />
      {!data && loading && <Spinner aria-label="Loading notifiers" />}
      {data && notifiers.length === 0 && (
        <EmptyState variant="sm">
          <EmptyStateHeader titleText="No notifiers" headingLevel="h3" />
          <EmptyStateBody>Alerts show in the console only. “Add notifier” sends them to a webhook or by e-mail.</EmptyStateBody>
        </EmptyState>
      )}
      {notifiers.length > 0 && (
        <Table aria-label="Notifiers" variant="compact">
          <Thead>
            <Tr>
              <Th>Name</Th>
              <Th>Kind</Th>
              <Th>Target</Th>
              <Th modifier="wrap">Minimum severity</Th>
              <Th modifier="wrap">Resolved alerts</Th>
              <Th>Status</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {notifiers.map((n) => (
              <Tr key={n.id} data-notifier-id={n.id}>
                <Td dataLabel="Name">{n.name}</Td>
                <Td dataLabel="Kind">{n.kind === 'webhook' ? 'Webhook' : 'E-mail'}</Td>
                <Td dataLabel="Target"><Target n={n} /></Td>
                <Td dataLabel="Minimum severity">{n.min_severity}</Td>
                <Td dataLabel="Resolved alerts">{n.send_resolved ? 'sent' : 'not sent'}</Td>
                <Td dataLabel="Status">
                  {n.enabled ? <Label color="green">Enabled</Label> : <Label color="grey">Disabled</Label>}
                </Td>
                <Td isActionCell>
                  <RowActions label={n.name} isDisabled={acting === n.id} items={[
                    { title: 'Send test', onClick: () => void sendTest(n) },
                    { title: 'Delivery history', onClick: () => setDialog({ kind: 'history', n }) },
                    { title: n.enabled ? 'Disable' : 'Enable', onClick: () => void setEnabled(n, !n.enabled) },
                    { isSeparator: true },
                    { title: 'Remove', isDanger: true, onClick: () => setDialog({ kind: 'remove', n }) },
                  ]} />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      {dialog?.kind === 'add' && <AddNotifierModal onClose={close} onAdded={reload} />}
      {dialog?.kind === 'history' && (
        <DeliveriesModal title={`Delivery history of ${dialog.n.name}`} label={`Deliveries of ${dialog.n.name}`}
          load={(s) => api.notifierDeliveries(dialog.n.id, s)} onClose={close} />
      )}
      {dialog?.kind === 'remove' && (
        <ConfirmRemoveModal
          title={`Remove notifier ${dialog.n.name}?`}
          body={<p>Alerts are no longer sent to it, and its delivery history is removed with it.</p>}
          onConfirm={() => api.removeNotifier(dialog.n.id)}
          onClose={close}
          onDone={done}
        />
      )}
    </>
  );
}
