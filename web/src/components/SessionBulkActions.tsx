// Start, stop, pause or resume several sessions at once: a confirmation naming the sessions the
// action applies to (and those left out, with the engine's reason), then each session's own
// request -- a failure is reported for its session and the others carry on -- and a result
// line per session, in the engine's words.
import { useRef, useState } from 'react';
import {
  Alert, Button, List, ListItem, Modal, ModalVariant, Progress, Stack, StackItem,
} from '@patternfly/react-core';
import CheckCircleIcon from '@patternfly/react-icons/dist/esm/icons/check-circle-icon';
import ExclamationCircleIcon from '@patternfly/react-icons/dist/esm/icons/exclamation-circle-icon';
import { api, type Session } from '../api';
import { errorText } from '../util';
import { ACTION_LABEL, type BulkActionName, type BulkPlan } from './sessionModel';

const DONE: Record<BulkActionName, string> = { start: 'started', stop: 'stopped', pause: 'paused', resume: 'resumed' };
// Requests in flight at once: enough to be quick, few enough not to crowd the engine.
const PARALLEL = 4;

type Outcome = { ok: true } | { ok: false; message: string };

const plural = (n: number) => `${n} ${n === 1 ? 'session' : 'sessions'}`;

export function BulkActionModal({ action, plan, nameOf, onClose, onUpdated }: {
  action: BulkActionName; plan: BulkPlan; nameOf: (s: Session) => string;
  onClose: () => void; onUpdated: (s: Session) => void;
}) {
  const [outcomes, setOutcomes] = useState<Map<string, Outcome>>(new Map());
  const [phase, setPhase] = useState<'confirm' | 'running' | 'done'>('confirm');
  const started = useRef(false);
  const label = ACTION_LABEL[action];
  const n = plan.targets.length;

  const run = async () => {
    if (started.current) return;
    started.current = true;
    setPhase('running');
    const queue = [...plan.targets];
    const worker = async () => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        const id = s.id;
        let outcome: Outcome;
        try {
          onUpdated(await api.sessionAction(id, action));
          outcome = { ok: true };
        } catch (e) {
          outcome = { ok: false, message: errorText(e) };
        }
        setOutcomes((cur) => new Map(cur).set(id, outcome));
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
    setPhase('done');
  };

  const failed = plan.targets.filter((s) => outcomes.get(s.id)?.ok === false);
  const succeeded = plan.targets.filter((s) => outcomes.get(s.id)?.ok === true);
  const summary = `${plural(succeeded.length)} ${DONE[action]}${failed.length ? `, ${failed.length} failed` : ''}`;

  return (
    <Modal variant={ModalVariant.medium} title={`${label} ${plural(n)}?`} isOpen
      onClose={phase === 'running' ? undefined : onClose}
      actions={phase === 'confirm' ? [
        <Button key="go" variant="primary" onClick={() => void run()} isDisabled={n === 0}>{label}</Button>,
        <Button key="cancel" variant="link" onClick={onClose}>Cancel</Button>,
      ] : [
        <Button key="close" variant="primary" onClick={onClose} isDisabled={phase === 'running'}>Close</Button>,
      ]}>
      <Stack hasGutter>
        {phase === 'confirm' && (
          <StackItem>
            {label} each of these {plural(n)}; each is a request of its own, and a failure does not stop the others.
          </StackItem>
        )}
        {phase !== 'confirm' && (
          <StackItem>
            <Progress value={outcomes.size} max={n} title={phase === 'running' ? `${label}…` : 'Done'}
              measureLocation="outside" label={`${outcomes.size} of ${n}`}
              variant={phase === 'done' ? (failed.length ? 'danger' : 'success') : undefined}
              aria-label={`${label}: ${outcomes.size} of ${n} done`} />
          </StackItem>
        )}
        {phase === 'done' && (
          <StackItem>
            <Alert isInline variant={failed.length === 0 ? 'success' : succeeded.length === 0 ? 'danger' : 'warning'} title={summary} />
          </StackItem>
        )}
        <StackItem>
          <List isPlain aria-label={`Sessions to ${label.toLowerCase()}`}>
            {plan.targets.map((s) => {
              const o = outcomes.get(s.id);
              return (
                <ListItem key={s.id} data-session-id={s.id}
                  icon={o ? (o.ok ? <CheckCircleIcon color="var(--pf-v5-global--success-color--100)" />
                    : <ExclamationCircleIcon color="var(--pf-v5-global--danger-color--100)" />) : undefined}>
                  <strong>{nameOf(s)}</strong>
                  {o && (o.ok ? `: ${DONE[action]}` : <>: <span className="georep-bulk-error">failed: {o.message}</span></>)}
                </ListItem>
              );
            })}
          </List>
        </StackItem>
        {plan.skipped.length > 0 && (
          <StackItem>
            <Alert isInline isPlain variant="info" title={`Left out: ${plural(plan.skipped.length)}`}>
              <List aria-label="Left out">
                {plan.skipped.map(({ session, reason }) => (
                  <ListItem key={session.id}>{nameOf(session)} ({session.status}): {reason}</ListItem>
                ))}
              </List>
            </Alert>
          </StackItem>
        )}
      </Stack>
    </Modal>
  );
}
