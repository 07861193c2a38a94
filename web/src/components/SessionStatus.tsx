// A session's or a node's status as a label, with its reason beneath when there is one.
import { Label } from '@patternfly/react-core';
import ExclamationTriangleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-triangle-icon';
import { StatusLabel } from '../util';

export function SessionStatusLabel({ status, reason }: { status: string; reason?: string }) {
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
      <div className="georep-status-reason">{reason}</div>
    </div>
  );
}
