// A session's or a node's status as a label, with its reason beneath when there is one.
import { Label } from '@patternfly/react-core';
import ExclamationTriangleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-triangle-icon';
import type { NodeStatus, Session, SessionAlert, SessionStatus } from '../api';
import { StatusLabel, TimeText } from '../util';
import { worstStatus } from './sessionModel';

// What a standing alert is called in a label.
const ALERT_LABEL: Record<string, string> = {
  'data-at-risk': 'Data at risk', stalled: 'Stalled', 'heartbeat-mismatch': 'Data loss',
  'heartbeat-failing': 'Heartbeat failing', 'verify-differs': 'Verify differs',
};

export function SessionStatusLabel({ status, reason, alerts }: {
  status: SessionStatus | NodeStatus['status']; reason?: string; alerts?: SessionAlert[];
}) {
  // A session with a standing alert is never shown plain green: the alert sits beside its
  // status, with its message beneath.
  if (alerts && alerts.length > 0) {
    return (
      <div className="georep-status">
        <StatusLabel status={status} title={reason || undefined} />{' '}
        {alerts.map((a) => (
          <Label key={a.kind} color="red" icon={<ExclamationTriangleIcon />} data-alert={a.kind}>
            {ALERT_LABEL[a.kind] ?? a.kind}
          </Label>
        ))}
        {alerts.map((a) => <div key={a.kind} className="georep-status-reason"><TimeText text={a.message} /></div>)}
        {reason && <div className="georep-status-reason"><TimeText text={reason} /></div>}
      </div>
    );
  }
  // "Partial faulty" (some replica set has no healthy worker) is a warning, not a failure.
  const label =
    status === 'Partial faulty' ? (
      <Label color="orange" icon={<ExclamationTriangleIcon />} title={reason || undefined}>
        Partial faulty
      </Label>
    ) : (
      <StatusLabel status={status === 'Not started' ? 'Created' : status} title={reason || undefined} />
    );
  if (status === 'Not started') {
    return (
      <Label color="grey" title={reason || undefined}>
        Not started
      </Label>
    );
  }
  if (!reason) return label;
  return (
    <div className="georep-status">
      {label}
      <div className="georep-status-reason"><TimeText text={reason} /></div>
    </div>
  );
}

// The worst status of some sessions (a cluster's, a volume's), with how many share it; a dash
// when there are none.
export function WorstStatusLabel({ sessions }: { sessions: Session[] }) {
  const worst = worstStatus(sessions);
  if (!worst) return <span>—</span>;
  const same = sessions.filter((s) => s.status === worst).length;
  return (
    <span className="georep-worst" title={`${same} of ${sessions.length} ${sessions.length === 1 ? 'session' : 'sessions'} ${worst}`}>
      <SessionStatusLabel status={worst} />
      {sessions.length > 1 && <span className="georep-status-reason"> {same} of {sessions.length}</span>}
    </span>
  );
}
