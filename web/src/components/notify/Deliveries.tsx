// Deliveries: the messages the engine sent (or is still sending) through a notifier, each with
// its attempts, the last attempt's time and error and when it is tried next. A table, read again
// every few seconds while one of its messages is still pending (deliveries are retried by the
// engine without an event to tell of it), and a dialog around it: a notifier's, or an alert's.
import { useEffect } from 'react';
import { Button, Label, Modal, Spinner } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import CheckCircleIcon from '@patternfly/react-icons/dist/esm/icons/check-circle-icon';
import ExclamationCircleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-circle-icon';
import InProgressIcon from '@patternfly/react-icons/dist/esm/icons/in-progress-icon';
import { api, type Alert, type Delivery } from '../../api';
import { useRole } from '../../role';
import { ErrorAlert, Time, TimeText, useAsync } from '../../util';

const PENDING_POLL_MS = 3000;

export function DeliveryState({ d }: { d: Delivery }) {
  if (d.state === 'delivered') return <Label color="green" icon={<CheckCircleIcon />}>Delivered</Label>;
  if (d.state === 'failed') return <Label color="red" icon={<ExclamationCircleIcon />}>Failed</Label>;
  return <Label color={d.attempts > 0 ? 'orange' : 'blue'} icon={<InProgressIcon />}>{d.attempts > 0 ? 'Retrying' : 'Pending'}</Label>;
}

// What a message was about: a test, or the alert (its rule and object, read from a webhook's body).
function about(d: Delivery): string {
  if (d.event === 'test' || d.alert_id === null) return 'Test message';
  try {
    const a = (JSON.parse(d.body) as { alert?: { rule?: string; object_name?: string } }).alert;
    if (a?.rule) return `Alert ${d.alert_id}: ${a.rule} on ${a.object_name ?? '?'} (${d.event})`;
  } catch {
    /* an e-mail's body is not JSON */
  }
  return `Alert ${d.alert_id} (${d.event})`;
}

// `load` lists the deliveries; `notifierName` names a delivery's notifier (a column is added).
export function DeliveriesTable({ label, load, notifierName }: {
  label: string; load: (s: AbortSignal) => Promise<Delivery[]>; notifierName?: (id: string) => string;
}) {
  const { data, error, loading, reload } = useAsync(load, []);
  const list = data ?? [];
  const pending = list.some((d) => d.state === 'pending');
  useEffect(() => {
    if (!pending) return;
    const t = setInterval(reload, PENDING_POLL_MS);
    return () => clearInterval(t);
  }, [pending, reload]);
  return (
    <>
      <ErrorAlert error={error} title="The deliveries could not be listed" />
      {!data && loading && <Spinner aria-label="Loading deliveries" />}
      {data && list.length === 0 && <p>Nothing was sent yet.</p>}
      {list.length > 0 && (
        <Table aria-label={label} variant="compact">
          <Thead>
            <Tr>
              {notifierName && <Th>Notifier</Th>}
              <Th>Message</Th>
              <Th>Status</Th>
              <Th>Attempts</Th>
              <Th modifier="wrap">Last attempt</Th>
              <Th>Last error</Th>
              <Th modifier="wrap">Next attempt</Th>
            </Tr>
          </Thead>
          <Tbody>
            {list.map((d) => (
              <Tr key={d.id} data-delivery-id={d.id}>
                {notifierName && <Td dataLabel="Notifier">{notifierName(d.notifier_id)}</Td>}
                <Td dataLabel="Message">{about(d)}</Td>
                <Td dataLabel="Status">
                  <DeliveryState d={d} />{d.response_status !== null && <>{' '}<span>HTTP {d.response_status}</span></>}
                </Td>
                <Td dataLabel="Attempts">{d.attempts}</Td>
                <Td dataLabel="Last attempt"><Time iso={d.last_attempt_at} show="both" empty="not yet" /></Td>
                <Td dataLabel="Last error">
                  {d.last_error ? <TimeText text={d.last_error} /> : '\u2014'}
                </Td>
                <Td dataLabel="Next attempt">{d.state === 'pending' ? <Time iso={d.next_attempt_at} empty="soon" /> : '\u2014'}</Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      {data && (
        <Button variant="link" isInline onClick={reload} isDisabled={loading} className="pf-v5-u-mt-sm">Refresh</Button>
      )}
    </>
  );
}

export function DeliveriesModal({ title, label, load, notifierName, onClose }: {
  title: string; label: string; load: (s: AbortSignal) => Promise<Delivery[]>; notifierName?: (id: string) => string;
  onClose: () => void;
}) {
  return (
    <Modal variant="large" title={title} isOpen onClose={onClose}
      actions={[<Button key="close" variant="primary" onClick={onClose}>Close</Button>]}>
      <DeliveriesTable label={label} load={load} notifierName={notifierName} />
    </Modal>
  );
}

// The messages about one alert, through whichever notifiers took it: named for an
// administrator (who may list the notifiers), by id for everyone else.
export function AlertDeliveriesModal({ alert, onClose }: { alert: Alert; onClose: () => void }) {
  const { role } = useRole();
  const notifiers = useAsync((s) => (role === 'admin' ? api.notifiers(s) : Promise.resolve([])), [role]);
  const name = (id: string) => notifiers.data?.find((n) => n.id === id)?.name ?? id;
  return (
    <DeliveriesModal title={`Messages sent about ${alert.rule} on ${alert.object_name}`} label="Messages sent about the alert"
      load={(s) => api.alertDeliveries(alert.id, s)} notifierName={name} onClose={onClose} />
  );
}
