// The dialogs behind a session's actions: a confirmation with Force (start, stop, pause,
// resume, remove), Set checkpoint, Config and Verify. One host component shows the dialog of
// the pending action; every error stays inside its dialog, in the engine's words.
import { useState } from 'react';
import {
  Alert, Button, Checkbox, Form, FormGroup, HelperText, HelperTextItem, Modal, ModalVariant, Radio, Spinner, Stack,
  StackItem, TextInput,
} from '@patternfly/react-core';
import { api, type Session } from '../api';
import { errorText, ErrorAlert, formatTimeFull, Time } from '../util';
import { FieldHelper, fieldProps, useServerErrors } from './forms';
import { ACTION_LABEL, availability, type SessionActionName } from './sessionModel';
import { ConfigModal } from './ConfigModal';
import { VerifyModal } from './VerifyModal';

export interface PendingAction {
  action: SessionActionName;
  session: Session;
  // Where focus goes back when the dialog closes.
  returnFocus?: HTMLElement | null;
}

export function sessionTitle(s: Session, destinationHost?: string): string {
  const host = destinationHost ?? s.nodes?.[0]?.destination_host ?? '';
  return `${host ? host + '::' : ''}${s.destination_volume}`;
}

const VERB: Record<string, { what: string; progress: string }> = {
  start: { what: 'starts a worker for each source brick and begins replicating.', progress: 'Starting…' },
  stop: { what: 'stops its workers. Replication resumes from where it was when the session is started again.', progress: 'Stopping…' },
  pause: { what: 'pauses its workers; changes keep accumulating and are sent when it is resumed.', progress: 'Pausing…' },
  resume: { what: 'resumes the paused workers.', progress: 'Resuming…' },
  remove: { what: 'removes the session. The data already on the destination stays there.', progress: 'Removing…' },
};

function ForceConfirmModal({
  pending, volumeKind, destinationHost, onClose, onUpdated, onRemoved,
}: {
  pending: PendingAction; volumeKind?: string; destinationHost?: string;
  onClose: () => void; onUpdated: (s: Session) => void; onRemoved: (id: string) => void;
}) {
  const { action, session } = pending;
  const avail = availability(action, session);
  const [force, setForce] = useState(false);
  const [resetSyncTime, setResetSyncTime] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const label = ACTION_LABEL[action];
  const needsForce = avail.mode === 'force';

  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      if (action === 'remove') {
        await api.removeSession(session.id, force, resetSyncTime);
        onRemoved(session.id);
      } else {
        const s = await api.sessionAction(session.id, action as 'start' | 'stop' | 'pause' | 'resume', force);
        onUpdated(s);
      }
      onClose();
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };

  return (
    <Modal
      variant={ModalVariant.small}
      title={`${label} session?`}
      titleIconVariant={action === 'remove' ? 'warning' : undefined}
      isOpen
      onClose={busy ? undefined : onClose}
      actions={[
        <Button key="go" variant={action === 'remove' ? 'danger' : 'primary'} onClick={run}
          isDisabled={busy || (needsForce && !force)} isLoading={busy}>
          {label}
        </Button>,
        <Button key="cancel" variant="link" onClick={onClose} isDisabled={busy}>
          Cancel
        </Button>,
      ]}
    >
      <Stack hasGutter>
        <StackItem>
          {label} <strong>{sessionTitle(session, destinationHost)}</strong> ({session.session_key}): this {VERB[action].what}
        </StackItem>
        {needsForce && avail.reason && (
          <StackItem>
            <Alert variant="warning" isInline isPlain title={avail.reason} />
          </StackItem>
        )}
        <StackItem>
          <Form onSubmit={(e) => { e.preventDefault(); if (!busy && (!needsForce || force)) void run(); }}>
            <Checkbox
              id="session-action-force"
              label="Force"
              description={
                action === 'remove'
                  ? 'Remove even if the session is running (its workers are stopped) or the cluster refuses.'
                  : action === 'start'
                    ? 'Start even if already started: restarts the workers.'
                    : 'Ignore errors from individual nodes and carry on.'
              }
              isChecked={force}
              onChange={(_e, v) => setForce(v)}
              isDisabled={busy}
            />
            {action === 'remove' && volumeKind === 'gluster' && (
              <Checkbox
                id="session-action-reset-sync-time"
                label="Reset sync time"
                description="Forget how far replication got: a session created again between the same volumes starts with a full crawl."
                isChecked={resetSyncTime}
                onChange={(_e, v) => setResetSyncTime(v)}
                isDisabled={busy}
              />
            )}
            {action === 'remove' && volumeKind === 'directory' && (
              <HelperText>
                <HelperTextItem>
                  The worker&apos;s state (its index of what was synced) goes with the session: a session created again
                  starts with a full crawl.
                </HelperTextItem>
              </HelperText>
            )}
          </Form>
        </StackItem>
        {busy && (
          <StackItem>
            <Spinner size="md" aria-label={VERB[action].progress} /> {VERB[action].progress}
          </StackItem>
        )}
        <StackItem>
          <ErrorAlert error={error} title={`Could not ${label.toLowerCase()} the session`} />
        </StackItem>
      </Stack>
    </Modal>
  );
}

function CheckpointModal({
  pending, destinationHost, onClose, onUpdated,
}: {
  pending: PendingAction; destinationHost?: string; onClose: () => void; onUpdated: (s: Session) => void;
}) {
  const { session } = pending;
  const [busy, setBusy] = useState(false);
  const [when, setWhen] = useState<'now' | 'at'>('now');
  // A date and time in the browser's zone (datetime-local), sent as Unix seconds.
  const [at, setAt] = useState('');
  const server = useServerErrors(['value']);
  const atSeconds = at ? Math.floor(new Date(at).getTime() / 1000) : NaN;
  const atError = when === 'at' && at && Number.isNaN(atSeconds) ? 'A date and time.' : null;
  const canRun = !busy && (when === 'now' || (!!at && !atError));
  const current = session.nodes?.find((n) => n.checkpoint_time)?.checkpoint_time ?? null;
  const run = async () => {
    if (!canRun) return;
    setBusy(true);
    server.clear();
    try {
      await api.setConfig(session.id, 'checkpoint', when === 'now' ? 'now' : String(atSeconds));
      // The nodes report the checkpoint once the engine has told the workers; read it back.
      onUpdated(await api.session(session.id));
      onClose();
    } catch (e) {
      server.fail(e);
      setBusy(false);
    }
  };
  return (
    <Modal
      variant={ModalVariant.small}
      title="Set checkpoint"
      isOpen
      onClose={busy ? undefined : onClose}
      actions={[
        <Button key="go" variant="primary" onClick={run} isDisabled={!canRun} isLoading={busy}>
          Set checkpoint
        </Button>,
        <Button key="cancel" variant="link" onClick={onClose} isDisabled={busy}>
          Cancel
        </Button>,
      ]}
    >
      <Stack hasGutter>
        <StackItem>
          Mark a time as a checkpoint of <strong>{sessionTitle(session, destinationHost)}</strong>. The
          checkpoint completes once every change made before it has been synced to the destination; the session&apos;s
          details show its progress.
        </StackItem>
        <StackItem>
          <Form onSubmit={(e) => { e.preventDefault(); void run(); }}>
            <FormGroup role="radiogroup" fieldId="checkpoint-when" label="Checkpoint at" isStack>
              <Radio id="checkpoint-now" name="checkpoint-when" label="Now" isChecked={when === 'now'}
                onChange={() => setWhen('now')} isDisabled={busy} />
              <Radio id="checkpoint-at" name="checkpoint-when" label="A date and time (your local time)" isChecked={when === 'at'}
                onChange={() => setWhen('at')} isDisabled={busy} />
            </FormGroup>
            {when === 'at' && (
              <FormGroup label="Date and time" fieldId="checkpoint-at-value">
                <TextInput id="checkpoint-at-value" type="datetime-local" step={1} value={at} isDisabled={busy}
                  {...fieldProps('checkpoint-at-value', atError ?? server.on('value'))}
                  onChange={(_e, v) => { setAt(v); server.touched('value'); }} />
                <FieldHelper fieldId="checkpoint-at-value" error={atError ?? server.on('value')}>
                  {at && !Number.isNaN(atSeconds) ? formatTimeFull(new Date(atSeconds * 1000).toISOString()) : 'In the time zone of this browser.'}
                </FieldHelper>
              </FormGroup>
            )}
          </Form>
        </StackItem>
        {current && <StackItem>The current checkpoint is <Time iso={current} show="both" />; it will be replaced.</StackItem>}
        <StackItem>
          <ErrorAlert error={when === 'now' ? server.alert ?? server.on('value') : server.alert} title="Could not set the checkpoint" />
        </StackItem>
      </Stack>
    </Modal>
  );
}

export function SessionActionDialogs({
  pending, volumeKind, destinationHost, onClose, onUpdated, onRemoved,
}: {
  pending: PendingAction | null; volumeKind?: string; destinationHost?: string;
  onClose: () => void; onUpdated: (s: Session) => void; onRemoved: (id: string) => void;
}) {
  if (!pending) return null;
  const close = () => {
    const back = pending.returnFocus;
    onClose();
    // Focus goes back to what opened the dialog (a row's actions toggle, a toolbar button).
    if (back) setTimeout(() => back.isConnected && back.focus(), 0);
  };
  const key = `${pending.action}-${pending.session.id}`;
  switch (pending.action) {
    case 'config':
      return <ConfigModal key={key} session={pending.session} title={sessionTitle(pending.session, destinationHost)} onClose={close} />;
    case 'verify':
      return <VerifyModal key={key} session={pending.session} title={sessionTitle(pending.session, destinationHost)} volumeKind={volumeKind} onClose={close} />;
    case 'checkpoint':
      return <CheckpointModal key={key} pending={pending} destinationHost={destinationHost} onClose={close} onUpdated={onUpdated} />;
    default:
      return (
        <ForceConfirmModal key={key} pending={pending} volumeKind={volumeKind} destinationHost={destinationHost}
          onClose={close} onUpdated={onUpdated} onRemoved={onRemoved} />
      );
  }
}
