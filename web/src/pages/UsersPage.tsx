// Users (administrators only): who may use georep and with which role -- viewers read, operators
// also run sessions, admins change everything. Add a user, change a role, reset a password (which
// revokes the user's tokens), list or revoke a user's tokens, remove a user. The engine keeps the
// rules (nobody removes themself; the last admin stays one) and its refusal shows in the dialog.
import { useState } from 'react';
import {
  Alert, Button, EmptyState, EmptyStateBody, EmptyStateHeader, EmptyStateIcon, Form, FormGroup, FormSelect,
  FormSelectOption, HelperText, HelperTextItem, Label, Modal, PageSection, Spinner, Stack, StackItem, TextInput, Title,
  Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import LockIcon from '@patternfly/react-icons/dist/esm/icons/lock-icon';
import { api, currentUser, type Role, type User } from '../api';
import { useLiveEvents } from '../live';
import { useRole } from '../role';
import { ErrorAlert, errorText, Time, useAsync } from '../util';
import { BusyNote, ConfirmRemoveModal, FormModal, RowActions } from '../components/common';
import { TokenTable } from '../components/TokenTable';

const ROLES: { role: Role; what: string }[] = [
  { role: 'viewer', what: 'reads everything, changes nothing' },
  { role: 'operator', what: 'also starts, stops, pauses, verifies and repairs sessions' },
  { role: 'admin', what: 'also creates and removes clusters, destinations, sessions and users' },
];
const MIN_PASSWORD = 12;

export function UsersPage() {
  const { role } = useRole();
  return (
    <>
      <PageSection variant="light">
        <Title headingLevel="h1">Users</Title>
        <p className="pf-v5-u-color-200">
          Who may use georep, and with which role: viewers read, operators also run sessions, admins change everything.
        </p>
      </PageSection>
      <PageSection>
        {role === null ? (
          <Spinner aria-label="Reading your role" />
        ) : role !== 'admin' ? (
          <EmptyState>
            <EmptyStateHeader titleText="Admins only" headingLevel="h2" icon={<EmptyStateIcon icon={LockIcon} />} />
            <EmptyStateBody>
              Managing users needs the admin role; you are logged in as a {role}. Your own API tokens are on the API
              tokens page.
            </EmptyStateBody>
          </EmptyState>
        ) : (
          <UsersTable />
        )}
      </PageSection>
    </>
  );
}

type Dialog =
  | { kind: 'add' } | { kind: 'role'; user: User } | { kind: 'password'; user: User }
  | { kind: 'tokens'; user: User } | { kind: 'remove'; user: User };

function UsersTable() {
  const { data, error, loading, reload } = useAsync((s) => api.users(s), []);
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const me = currentUser();
  useLiveEvents(['audit'], (type, ev) => {
    if (type === 'resync' || (ev as { object_type?: string } | null)?.object_type === 'user') reload();
  });
  const users = [...(data ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const close = () => setDialog(null);
  const done = () => {
    setDialog(null);
    reload();
  };
  return (
    <>
      <Toolbar aria-label="User actions">
        <ToolbarContent>
          <ToolbarItem>
            <Button variant="primary" onClick={() => setDialog({ kind: 'add' })}>Add user</Button>
          </ToolbarItem>
          <ToolbarItem variant="pagination">{data ? `${users.length} ${users.length === 1 ? 'user' : 'users'}` : ''}</ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ErrorAlert error={error} title="The users could not be listed" />
      {!data && loading && <Spinner aria-label="Loading users" />}
      {users.length > 0 && (
        <Table aria-label="Users" variant="compact">
          <Thead>
            <Tr>
              <Th>Name</Th>
              <Th>Role</Th>
              <Th>Created</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {users.map((u) => (
              <Tr key={u.id} data-user-id={u.id}>
                <Td dataLabel="Name">{u.name} {u.name === me && <Label isCompact color="blue">you</Label>}</Td>
                <Td dataLabel="Role"><Label isCompact color={u.role === 'admin' ? 'purple' : u.role === 'operator' ? 'cyan' : 'grey'}>{u.role}</Label></Td>
                <Td dataLabel="Created"><Time iso={u.created_at} show="both" /></Td>
                <Td isActionCell>
                  <RowActions label={u.name} items={[
                    { title: 'Change role', onClick: () => setDialog({ kind: 'role', user: u }) },
                    { title: 'Reset password', onClick: () => setDialog({ kind: 'password', user: u }) },
                    { title: 'Tokens', onClick: () => setDialog({ kind: 'tokens', user: u }) },
                    { isSeparator: true },
                    { title: 'Remove', isDanger: true, onClick: () => setDialog({ kind: 'remove', user: u }) },
                  ]} />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      {dialog?.kind === 'add' && <AddUserModal onClose={close} onDone={done} />}
      {dialog?.kind === 'role' && <RoleModal user={dialog.user} onClose={close} onDone={done} />}
      {dialog?.kind === 'password' && <PasswordModal user={dialog.user} self={dialog.user.name === me} onClose={close} onDone={done} />}
      {dialog?.kind === 'tokens' && <UserTokensModal user={dialog.user} onClose={close} />}
      {dialog?.kind === 'remove' && (
        <ConfirmRemoveModal
          title={`Remove user ${dialog.user.name}?`}
          body={<p>{dialog.user.name} can no longer log in, and every token of theirs stops working.</p>}
          onConfirm={() => api.removeUser(dialog.user.id)}
          onClose={close}
          onDone={done}
        />
      )}
    </>
  );
}

function RoleSelect({ id, value, onChange, disabled }: { id: string; value: Role; onChange: (r: Role) => void; disabled: boolean }) {
  return (
    <>
      <FormSelect id={id} value={value} onChange={(_e, v) => onChange(v as Role)} isDisabled={disabled}>
        {ROLES.map((r) => <FormSelectOption key={r.role} value={r.role} label={r.role} />)}
      </FormSelect>
      <HelperText><HelperTextItem>{value === 'viewer' ? 'A' : 'An'} {value} {ROLES.find((r) => r.role === value)?.what}.</HelperTextItem></HelperText>
    </>
  );
}

function useSubmit(action: () => Promise<unknown>, onDone: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (ev?: React.FormEvent) => {
    ev?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
      onDone();
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

function PasswordFields({ password, setPassword, repeat, setRepeat, disabled, idPrefix }: {
  password: string; setPassword: (v: string) => void; repeat: string; setRepeat: (v: string) => void; disabled: boolean; idPrefix: string;
}) {
  const short = password !== '' && password.length < MIN_PASSWORD;
  const differs = repeat !== '' && repeat !== password;
  return (
    <>
      <FormGroup label="Password" isRequired fieldId={`${idPrefix}-password`}>
        <TextInput id={`${idPrefix}-password`} type="password" autoComplete="new-password" isRequired value={password}
          onChange={(_e, v) => setPassword(v)} isDisabled={disabled} validated={short ? 'error' : 'default'} />
        <HelperText><HelperTextItem variant={short ? 'error' : 'default'}>At least {MIN_PASSWORD} characters.</HelperTextItem></HelperText>
      </FormGroup>
      <FormGroup label="Repeat the password" isRequired fieldId={`${idPrefix}-repeat`}>
        <TextInput id={`${idPrefix}-repeat`} type="password" autoComplete="new-password" isRequired value={repeat}
          onChange={(_e, v) => setRepeat(v)} isDisabled={disabled} validated={differs ? 'error' : 'default'} />
        {differs && <HelperText><HelperTextItem variant="error">The passwords differ.</HelperTextItem></HelperText>}
      </FormGroup>
    </>
  );
}

function AddUserModal({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const { busy, error, submit } = useSubmit(() => api.createUser(name.trim(), password, role), onDone);
  // The engine checks the password's length too; the form says it before.
  const canSubmit = !busy && name.trim() !== '' && password.length >= MIN_PASSWORD && password === repeat;
  return (
    <FormModal title="Add user" formId="add-user-form" submitLabel="Add" canSubmit={canSubmit} busy={busy} onClose={onClose}>
      <Form id="add-user-form" onSubmit={(e) => { e.preventDefault(); if (canSubmit) void submit(); }}>
        <FormGroup label="Name" isRequired fieldId="user-name">
          <TextInput id="user-name" isRequired value={name} onChange={(_e, v) => setName(v)} isDisabled={busy} autoComplete="off" />
          <HelperText><HelperTextItem>Letters, digits, “.”, “-” and “_”.</HelperTextItem></HelperText>
        </FormGroup>
        <PasswordFields password={password} setPassword={setPassword} repeat={repeat} setRepeat={setRepeat} disabled={busy} idPrefix="user" />
        <FormGroup label="Role" fieldId="user-role">
          <RoleSelect id="user-role" value={role} onChange={setRole} disabled={busy} />
        </FormGroup>
      </Form>
      {busy && <BusyNote text="Adding the user…" />}
      {error && <Alert variant="danger" isInline title="The user was not added" className="pf-v5-u-mt-md">{error}</Alert>}
    </FormModal>
  );
}

function RoleModal({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: () => void }) {
  const [role, setRole] = useState<Role>(user.role);
  const { busy, error, submit } = useSubmit(() => api.setUserRole(user.id, role), onDone);
  return (
    <FormModal variant="small" title={`Change the role of ${user.name}`} formId="user-role-form" submitLabel="Change role"
      canSubmit={!busy && role !== user.role} busy={busy} onClose={onClose}>
      <Form id="user-role-form" onSubmit={(e) => { e.preventDefault(); if (role !== user.role) void submit(); }}>
        <FormGroup label="Role" fieldId="user-new-role">
          <RoleSelect id="user-new-role" value={role} onChange={setRole} disabled={busy} />
        </FormGroup>
      </Form>
      {error && <Alert variant="danger" isInline title="The engine refused" className="pf-v5-u-mt-md">{error}</Alert>}
    </FormModal>
  );
}

function PasswordModal({ user, self, onClose, onDone }: { user: User; self: boolean; onClose: () => void; onDone: () => void }) {
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const { busy, error, submit } = useSubmit(async () => {
    await api.setPassword(user.id, password);
    // One's own password changed: the console's token went with the others.
    if (self) {
      await api.logout();
      window.location.assign('/login');
    }
  }, onDone);
  const canSubmit = !busy && password.length >= MIN_PASSWORD && password === repeat;
  return (
    <FormModal variant="small" title={`Reset the password of ${user.name}`} formId="user-password-form" submitLabel="Reset password"
      canSubmit={canSubmit} busy={busy} onClose={onClose}>
      <Stack hasGutter>
        <StackItem>
          <Alert variant="info" isInline isPlain
            title={self ? 'Every token of yours is revoked, this console’s too: you log in again with the new password.'
              : `Every token of ${user.name} is revoked: they log in again with the new password.`} />
        </StackItem>
        <StackItem>
          <Form id="user-password-form" onSubmit={(e) => { e.preventDefault(); if (canSubmit) void submit(); }}>
            <PasswordFields password={password} setPassword={setPassword} repeat={repeat} setRepeat={setRepeat} disabled={busy} idPrefix="reset" />
          </Form>
        </StackItem>
        {error && <StackItem><Alert variant="danger" isInline title="The password was not changed">{error}</Alert></StackItem>}
      </Stack>
    </FormModal>
  );
}

function UserTokensModal({ user, onClose }: { user: User; onClose: () => void }) {
  const tokens = useAsync((s) => api.userTokens(user.id, s), [user.id]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const list = tokens.data ?? [];
  const revokeAll = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.revokeUserTokens(user.id);
      tokens.reload();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal variant="medium" title={`Tokens of ${user.name}`} isOpen onClose={busy ? undefined : onClose}
      actions={[
        <Button key="revoke" variant="danger" onClick={() => void revokeAll()} isDisabled={busy || list.length === 0} isLoading={busy}>
          Revoke all
        </Button>,
        <Button key="close" variant="link" onClick={onClose} isDisabled={busy}>Close</Button>,
      ]}>
      <ErrorAlert error={tokens.error} title="The tokens could not be listed" />
      {error && <Alert variant="danger" isInline title="The tokens were not revoked">{error}</Alert>}
      {!tokens.data && tokens.loading && <Spinner aria-label="Loading tokens" />}
      {tokens.data && list.length === 0 && <p>{user.name} has no token: they are not logged in anywhere.</p>}
      {list.length > 0 && (
        <TokenTable tokens={list} label={`Tokens of ${user.name}`} />
      )}
    </Modal>
  );
}
