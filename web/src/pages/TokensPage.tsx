// API tokens: the logged-in user's own tokens (scripts, the CLI and monitoring use the REST API
// with one), each revocable; Create token shows the new secret once, with a copy button. The
// console's own login is a token too: it is marked, and revoking it logs the console out.
import { useState } from 'react';
import {
  Alert, Button, EmptyState, EmptyStateBody, EmptyStateHeader, Form, FormGroup, FormSelect,
  FormSelectOption, HelperText, HelperTextItem, Modal, PageSection, Spinner, Stack, StackItem, TextInput, Title,
  Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { api, currentTokenId, type ApiToken } from '../api';
import { useLiveEvents } from '../live';
import { ErrorAlert, errorText, Time, useAsync } from '../util';
import { BusyNote, SecretOnceModal } from '../components/common';
import { TokenTable } from '../components/TokenTable';

const DAY = 86400;
// The engine's longest lifetime is 90 days.
const LIFETIMES = [
  { seconds: DAY, label: '1 day' }, { seconds: 7 * DAY, label: '7 days' },
  { seconds: 30 * DAY, label: '30 days' }, { seconds: 90 * DAY, label: '90 days' },
];

// After the console's own token is gone: forget it and show the login page.
async function loggedOut() {
  await api.logout();
  window.location.assign('/login');
}

export function TokensPage() {
  const { data, error, loading, reload } = useAsync((s) => api.tokens(s), []);
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const mine = currentTokenId();
  useLiveEvents(['audit'], (type, ev) => {
    const t = (ev as { object_type?: string } | null)?.object_type;
    if (type === 'resync' || t === 'token' || t === 'user') reload();
  });
  const tokens = data ?? [];
  return (
    <>
      <PageSection variant="light">
        <Title headingLevel="h1">API tokens</Title>
        <p className="pf-v5-u-color-200">
          Your tokens: a script, georep&apos;s command line or a monitoring system uses the REST API as you with one
          (<code>Authorization: Bearer …</code>). Revoke a token you no longer use.
        </p>
      </PageSection>
      <PageSection>
        <Toolbar aria-label="Token actions">
          <ToolbarContent>
            <ToolbarItem>
              <Button variant="primary" onClick={() => setCreating(true)}>Create token</Button>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <ErrorAlert error={error} title="Your tokens could not be listed" />
        {!data && loading && <Spinner aria-label="Loading tokens" />}
        {data && tokens.length === 0 && (
          <EmptyState>
            <EmptyStateHeader titleText="No API tokens" headingLevel="h2" />
            <EmptyStateBody>“Create token” issues one for a script or a tool.</EmptyStateBody>
          </EmptyState>
        )}
        {tokens.length > 0 && (
          <TokenTable tokens={tokens} label="API tokens" current={mine} onRevoke={setRevoking} />
        )}
      </PageSection>
      {creating && <CreateTokenModal onClose={() => setCreating(false)} onCreated={reload} />}
      {revoking && (
        <RevokeTokenModal token={revoking} current={revoking.id === mine} onClose={() => setRevoking(null)}
          onRevoked={() => {
            const current = revoking.id === mine;
            setRevoking(null);
            if (current) void loggedOut();
            else reload();
          }} />
      )}
    </>
  );
}

function RevokeTokenModal({ token, current, onClose, onRevoked }: {
  token: ApiToken; current: boolean; onClose: () => void; onRevoked: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.revokeToken(token.id);
      onRevoked();
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };
  return (
    <Modal variant="small" titleIconVariant="warning" title={`Revoke token ${token.name}?`} isOpen onClose={busy ? undefined : onClose}
      actions={[
        <Button key="go" variant="danger" onClick={() => void run()} isLoading={busy} isDisabled={busy}>Revoke</Button>,
        <Button key="cancel" variant="link" onClick={onClose} isDisabled={busy}>Cancel</Button>,
      ]}>
      <Stack hasGutter>
        <StackItem>Whatever uses this token is refused from now on.</StackItem>
        {current && (
          <StackItem>
            <Alert variant="warning" isInline isPlain title="This is the token this console is logged in with: revoking it logs you out." />
          </StackItem>
        )}
        <StackItem><ErrorAlert error={error} title="The token was not revoked" /></StackItem>
      </Stack>
    </Modal>
  );
}

function CreateTokenModal({ onClose, onCreated }: { onClose: () => void; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [ttl, setTtl] = useState(30 * DAY);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [issued, setIssued] = useState<ApiToken | null>(null);
  const canSubmit = !busy && name.trim() !== '';
  const submit = async (ev?: React.FormEvent) => {
    ev?.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    setError(null);
    try {
      const t = await api.createToken(name.trim(), ttl);
      setIssued(t);
      onCreated();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  if (issued) {
    return (
      <SecretOnceModal title={`Token ${issued.name} created`} label="Token secret" value={issued.token ?? ''}
        onClose={onClose} warning={{
          title: 'Copy the token now: it will not be shown again.',
          body: 'georep keeps only a hash of it. If it is lost, revoke it and create another.',
        }}>
        Expires <Time iso={issued.expires_at} show="both" empty="never" />.
      </SecretOnceModal>
    );
  }
  return (
    <Modal variant="small" title="Create token" isOpen onClose={busy ? undefined : onClose}
      actions={[
        <Button key="submit" variant="primary" type="submit" form="new-token-form" isDisabled={!canSubmit} isLoading={busy}>Create</Button>,
        <Button key="cancel" variant="link" onClick={onClose} isDisabled={busy}>Cancel</Button>,
      ]}>
      <Form id="new-token-form" onSubmit={submit}>
        <FormGroup label="Name" isRequired fieldId="token-name">
          <TextInput id="token-name" isRequired value={name} onChange={(_e, v) => setName(v)} isDisabled={busy} />
          <HelperText><HelperTextItem>What uses it, so that you know which to revoke: “backup-script”, “prometheus”. Letters, digits, “.”, “-” and “_”.</HelperTextItem></HelperText>
        </FormGroup>
        <FormGroup label="Lifetime" fieldId="token-ttl">
          <FormSelect id="token-ttl" value={String(ttl)} onChange={(_e, v) => setTtl(Number(v))} isDisabled={busy}>
            {LIFETIMES.map((l) => <FormSelectOption key={l.seconds} value={String(l.seconds)} label={l.label} />)}
          </FormSelect>
        </FormGroup>
      </Form>
      {busy && <BusyNote text="Creating the token…" />}
      {error && <Alert variant="danger" isInline title="The token was not created" className="pf-v5-u-mt-md">{error}</Alert>}
    </Modal>
  );
}
