// Building blocks shared by the clusters, cluster and events screens: the host-key fetch and
// confirmation (ssh's first-connection prompt, in a form), a confirm-to-remove dialog that keeps
// the engine's refusal inside it, a row's kebab menu, and a progress line.
import { useEffect, useState, type ReactNode } from 'react';
import {
  Alert, AlertActionCloseButton, Button, Checkbox, ClipboardCopy, Divider, Dropdown, DropdownItem, DropdownList, Flex, FlexItem, FormGroup,
  HelperText, HelperTextItem, MenuToggle, Modal,
  Radio, Spinner, Stack, StackItem,
} from '@patternfly/react-core';
import { type IAction } from '@patternfly/react-table';
import EllipsisVIcon from '@patternfly/react-icons/dist/esm/icons/ellipsis-v-icon';
import { api, ApiError } from '../api';
import { errorText } from '../util';
import type { HostKey } from '../apiClusters';
import { FieldHelper } from './forms';
import './tables.css';

// A line saying what a long operation is doing, with a spinner.
export function BusyNote({ text }: { text: string }) {
  return (
    <Flex alignItems={{ default: 'alignItemsCenter' }} spaceItems={{ default: 'spaceItemsSm' }} role="status">
      <FlexItem>
        <Spinner size="md" aria-label={text} />
      </FlexItem>
      <FlexItem>{text}</FlexItem>
    </Flex>
  );
}

// The kebab menu of a table row, named after the row so a screen reader (and a test) can tell
// the rows' menus apart. Opened with Enter or Space, the menu takes the focus (arrows move, Enter
// picks, Escape or Tab closes and gives the focus back to the toggle).
export function RowActions({ label, items, isDisabled, toggleProps }: {
  label: string; items: IAction[]; isDisabled?: boolean; toggleProps?: Record<string, string>;
}) {
  const [open, setOpen] = useState(false);
  return (
    <Dropdown
      isOpen={open}
      onOpenChange={setOpen}
      shouldFocusFirstItemOnOpen
      shouldFocusToggleOnSelect
      popperProps={{ position: 'right' }}
      toggle={(ref) => (
        <MenuToggle
          ref={ref}
          onClick={() => setOpen((o) => !o)}
          isExpanded={open}
          isDisabled={isDisabled}
          variant="plain"
          aria-label={`Actions for ${label}`}
          {...toggleProps}
        >
          <EllipsisVIcon />
        </MenuToggle>
      )}
    >
      <DropdownList>
        {items.map((item, i) => {
          if (item.isSeparator) return <Divider component="li" key={`sep-${i}`} />;
          const { title, onClick, isDisabled: off, isAriaDisabled, description, isDanger, tooltipProps } = item;
          return (
            <DropdownItem
              key={String(title)}
              isDisabled={off}
              isAriaDisabled={isAriaDisabled}
              description={description}
              isDanger={isDanger}
              tooltipProps={tooltipProps}
              onClick={(e) => {
                setOpen(false);
                if (!off && !isAriaDisabled) onClick?.(e as React.MouseEvent, 0, {}, {});
              }}
            >
              {title}
            </DropdownItem>
          );
        })}
      </DropdownList>
    </Dropdown>
  );
}

// A dialog around a form: the primary button submits the form `formId` (so Enter in a field
// does too), and while `busy` nothing closes it -- what was typed stays until the engine answers.
export function FormModal({ title, formId, submitLabel, canSubmit, busy, onClose, variant = 'medium', children }: {
  title: string; formId: string; submitLabel: string; canSubmit: boolean; busy: boolean; onClose: () => void;
  variant?: 'small' | 'medium' | 'large'; children: React.ReactNode;
}) {
  return (
    <Modal
      variant={variant}
      title={title}
      isOpen
      onClose={busy ? undefined : onClose}
      actions={[
        <Button key="submit" variant="primary" type="submit" form={formId} isDisabled={!canSubmit} isLoading={busy}>
          {submitLabel}
        </Button>,
        <Button key="cancel" variant="link" onClick={onClose} isDisabled={busy}>
          Cancel
        </Button>,
      ]}
    >
      {children}
    </Modal>
  );
}

// The result of a host-key fetch that the operator confirmed (or not yet).
export interface HostKeyChoice { fingerprint: string; confirmed: boolean }

// "Fetch host key": asks the engine for the host's SSH keys (POST /host-keys/scan), shows each
// key's type and SHA256 fingerprint, lets the operator pick one (the strongest is preselected)
// and requires an explicit "I have checked this fingerprint" before the choice counts.
// `pinned` (re-establish, re-pin) marks the key that is pinned now.
// `error`: the engine's refusal of the chosen key (its field, ssh_fingerprint), shown here.
export function HostKeyScan({
  address, port, onChange, pinned, disabled, fieldId = 'host-key', error: refused,
}: {
  address: string; port: number; onChange: (c: HostKeyChoice) => void; pinned?: string; disabled?: boolean;
  fieldId?: string; error?: string | null;
}) {
  const [keys, setKeys] = useState<HostKey[] | null>(null);
  const [chosen, setChosen] = useState('');
  const [confirmed, setConfirmed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const target = `${address}:${port}`;
  const [scannedFor, setScannedFor] = useState('');

  // A key fetched for another address or port does not count.
  useEffect(() => {
    if (scannedFor && scannedFor !== target) {
      setKeys(null);
      setChosen('');
      setConfirmed(false);
      onChange({ fingerprint: '', confirmed: false });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [target]);

  const scan = async () => {
    setBusy(true);
    setError(null);
    setKeys(null);
    setConfirmed(false);
    try {
      const r = await api.scanHostKeys(address.trim(), port);
      setKeys(r.items);
      setScannedFor(target);
      const order = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'rsa-sha2-512', 'ssh-rsa'];
      const best =
        r.items.find((k) => k.fingerprint === pinned) ??
        [...r.items].sort((a, b) => rank(order, a.type) - rank(order, b.type))[0];
      setChosen(best?.fingerprint ?? '');
      onChange({ fingerprint: best?.fingerprint ?? '', confirmed: false });
    } catch (e) {
      setError(errorText(e));
      onChange({ fingerprint: '', confirmed: false });
    } finally {
      setBusy(false);
    }
  };

  const pinnedSeen = !!pinned && !!keys?.some((k) => k.fingerprint === pinned);
  return (
    <FormGroup label="Host key" fieldId={`${fieldId}-fetch`} role="group">
      <Flex alignItems={{ default: 'alignItemsCenter' }}>
        <FlexItem>
          <Button
            id={`${fieldId}-fetch`}
            variant="secondary"
            onClick={scan}
            isDisabled={disabled || busy || !address.trim()}
            isLoading={busy}
          >
            Fetch host key
          </Button>
        </FlexItem>
        {busy && <FlexItem>Asking {target} for its host keys…</FlexItem>}
      </Flex>
      <FieldHelper fieldId={`${fieldId}-fetch`} error={refused} />
      {error && (
        <Alert variant="danger" isInline isPlain title="The host key could not be fetched" className="pf-v5-u-mt-sm">
          {error}
        </Alert>
      )}
      {keys && keys.length === 0 && (
        <Alert variant="warning" isInline isPlain title={`${target} offered no host key`} className="pf-v5-u-mt-sm" />
      )}
      {keys && keys.length > 0 && (
        <div className="pf-v5-u-mt-sm">
          {pinned && (
            <Alert
              variant={pinnedSeen ? 'success' : 'warning'}
              isInline
              isPlain
              title={pinnedSeen ? 'The host offers the pinned key' : 'The host key changed: it does not match the pinned one'}
            >
              Pinned: <code>{pinned}</code>
            </Alert>
          )}
          <HelperText>
            <HelperTextItem>
              The authenticity of {target} can&apos;t be established by georep. Compare the fingerprint with the one
              the host shows (<code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code> on its console).
            </HelperTextItem>
          </HelperText>
          {keys.map((k) => (
            <Radio
              key={k.fingerprint}
              id={`${fieldId}-${k.fingerprint}`}
              name={`${fieldId}-key`}
              isChecked={chosen === k.fingerprint}
              onChange={() => {
                setChosen(k.fingerprint);
                setConfirmed(false);
                onChange({ fingerprint: k.fingerprint, confirmed: false });
              }}
              label={
                <span>
                  {k.type} <code className="georep-fingerprint">{k.fingerprint}</code>
                  {k.fingerprint === pinned ? ' (pinned)' : ''}
                </span>
              }
            />
          ))}
          <Checkbox
            id={`${fieldId}-confirm`}
            className="pf-v5-u-mt-sm"
            label="I have checked this fingerprint"
            isChecked={confirmed}
            isDisabled={!chosen}
            onChange={(_e, v) => {
              setConfirmed(v);
              onChange({ fingerprint: chosen, confirmed: v });
            }}
          />
        </div>
      )}
    </FormGroup>
  );
}

function rank(order: string[], type: string) {
  const i = order.indexOf(type);
  return i < 0 ? order.length : i;
}

// "Remove X?" with the engine's refusal shown inside the dialog. If the engine refuses with a
// conflict and the caller allows it, offers the forced variant with the engine's reason.
// `confirmLabel`: the confirming button's word for another undoing action ("Reset").
export function ConfirmRemoveModal({
  title, body, onConfirm, onClose, onDone, forceLabel, busyText = 'Removing…', confirmLabel = 'Remove',
}: {
  title: string; body: React.ReactNode; onConfirm: (force: boolean) => Promise<unknown>; onClose: () => void;
  onDone: () => void; forceLabel?: string; busyText?: string; confirmLabel?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [canForce, setCanForce] = useState(false);
  const run = async (force: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm(force);
      onDone();
    } catch (e) {
      setError(errorText(e));
      if (forceLabel && e instanceof ApiError && e.status === 409 && e.code === 'failed_precondition') setCanForce(true);
    } finally {
      setBusy(false);
    }
  };
  const actions = [
    <Button key="remove" variant="danger" onClick={() => run(false)} isDisabled={busy} isLoading={busy && !canForce}>
      {confirmLabel}
    </Button>,
  ];
  if (canForce && forceLabel) {
    actions.push(
      <Button key="force" variant="danger" onClick={() => run(true)} isDisabled={busy} isLoading={busy}>
        {forceLabel}
      </Button>,
    );
  }
  actions.push(
    <Button key="cancel" variant="link" onClick={onClose} isDisabled={busy}>
      Cancel
    </Button>,
  );
  return (
    <Modal variant="small" titleIconVariant="warning" title={title} isOpen onClose={busy ? undefined : onClose} actions={actions}>
      {body}
      {busy && <BusyNote text={busyText} />}
      {error && (
        <Alert variant="danger" isInline title="The engine refused" className="pf-v5-u-mt-md">
          {error}
        </Alert>
      )}
    </Modal>
  );
}

// A small inline outcome (a check, a test) shown near the table it concerns.
export interface Outcome { variant: 'success' | 'danger' | 'warning' | 'info'; title: string; lines?: string[] }

export function OutcomeAlert({ outcome, onClose }: { outcome: Outcome | null; onClose: () => void }) {
  if (!outcome) return null;
  return (
    <Alert
      variant={outcome.variant}
      isInline
      title={outcome.title}
      className="pf-v5-u-mb-md"
      actionClose={<AlertActionCloseButton onClose={onClose} />}
    >
      {outcome.lines && outcome.lines.length > 0 && (
        <ul>
          {outcome.lines.map((l, i) => (
            <li key={i}>{l}</li>
          ))}
        </ul>
      )}
    </Alert>
  );
}

// A secret the engine shows once (a token, a webhook's signing secret): a warning that says so,
// the value with a copy button, and what else the caller tells (`children`).
export function SecretOnceModal({ title, warning, label, value, onClose, children }: {
  title: string; warning: { title: string; body: ReactNode }; label: string; value: string; onClose: () => void;
  children?: ReactNode;
}) {
  return (
    <Modal variant="medium" title={title} isOpen onClose={onClose}
      actions={[<Button key="close" variant="primary" onClick={onClose}>Close</Button>]}>
      <Stack hasGutter>
        <StackItem>
          <Alert variant="warning" isInline title={warning.title}>{warning.body}</Alert>
        </StackItem>
        <StackItem>
          <ClipboardCopy isReadOnly hoverTip={`Copy the ${label.toLowerCase()}`} clickTip="Copied" textAriaLabel={label}>
            {value}
          </ClipboardCopy>
        </StackItem>
        {children && <StackItem>{children}</StackItem>}
      </Stack>
    </Modal>
  );
}
