// A cluster's hosts: how the engine reaches each (this machine, or SSH with a pinned host key),
// its status and when it last answered. Add host, Check, Re-pin (after a host key really
// changed), Remove.
import { useState } from 'react';
import {
  Alert, Button, EmptyState, EmptyStateBody, EmptyStateHeader, Form, FormGroup, FormSelect, FormSelectOption,
  HelperText, HelperTextItem, Modal, TextInput, Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { Host } from '../../api';
import { clusterApi } from '../../apiClusters';
import { errorText, formatAgo, formatTime, StatusLabel } from '../../util';
import { gateItem, RoleButton, useRole } from '../../role';
import {
  BusyNote, FormModal, ConfirmRemoveModal, HostKeyScan, OutcomeAlert, RowActions, type HostKeyChoice, type Outcome,
} from '../common';

export function HostsTab({
  clusterId, hosts, reloadHosts, setHosts,
}: {
  clusterId: string; hosts: Host[]; reloadHosts: () => void; setHosts: (h: Host[]) => void;
}) {
  const [adding, setAdding] = useState(false);
  const [repinning, setRepinning] = useState<Host | null>(null);
  const [removing, setRemoving] = useState<Host | null>(null);
  const [checking, setChecking] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const gate = useRole();

  const replace = (h: Host) => setHosts(hosts.map((x) => (x.id === h.id ? { ...x, ...h } : x)));

  const check = async (h: Host) => {
    setChecking(h.id);
    setOutcome({ variant: 'info', title: `Checking ${h.name}…` });
    try {
      const r = await clusterApi.checkHost(h.id);
      replace(r);
      setOutcome(
        r.reachable
          ? { variant: 'success', title: `${h.name} is reachable` }
          : { variant: 'danger', title: `${h.name} is not reachable`, lines: [r.reason] },
      );
    } catch (e) {
      setOutcome({ variant: 'danger', title: `${h.name} could not be checked`, lines: [errorText(e)] });
    } finally {
      setChecking(null);
    }
  };

  return (
    <>
      <Toolbar aria-label="Host actions">
        <ToolbarContent>
          <ToolbarItem>
            <RoleButton needed="admin" variant="primary" onClick={() => setAdding(true)}>
              Add host
            </RoleButton>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <OutcomeAlert outcome={outcome} onClose={() => setOutcome(null)} />
      {hosts.length === 0 ? (
        <EmptyState>
          <EmptyStateHeader titleText="No hosts" headingLevel="h2" />
          <EmptyStateBody>Add this machine (local) or a host reached over SSH with “Add host”.</EmptyStateBody>
        </EmptyState>
      ) : (
        <Table aria-label="Hosts" variant="compact">
          <Thead>
            <Tr>
              <Th>Name</Th>
              <Th>Address</Th>
              <Th>Transport</Th>
              <Th>User</Th>
              <Th>Pinned host key</Th>
              <Th>Status</Th>
              <Th>Last seen</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {hosts.map((h) => (
              <Tr key={h.id}>
                <Td dataLabel="Name">{h.name}</Td>
                <Td dataLabel="Address">
                  {h.transport === 'ssh' ? `${h.address}${h.ssh_port !== 22 ? `:${h.ssh_port}` : ''}` : h.address || '—'}
                </Td>
                <Td dataLabel="Transport">{h.transport === 'local' ? 'Local (this machine)' : 'SSH'}</Td>
                <Td dataLabel="User">{h.transport === 'ssh' ? h.ssh_user : '—'}</Td>
                <Td dataLabel="Pinned host key" modifier="truncate">
                  {h.ssh_fingerprint ? <code className="georep-fingerprint">{h.ssh_fingerprint}</code> : '—'}
                </Td>
                <Td dataLabel="Status">
                  <StatusLabel status={checking === h.id ? 'Initializing' : h.status} />
                </Td>
                <Td dataLabel="Last seen">
                  <span title={formatTime(h.last_seen)}>{formatAgo(h.last_seen)}</span>
                </Td>
                <Td isActionCell>
                  <RowActions
                    label={h.name}
                    items={[
                      gateItem(gate, 'operator', { title: 'Check', onClick: () => check(h), isDisabled: checking === h.id }),
                      gateItem(gate, 'admin', { title: 'Re-pin host key', onClick: () => setRepinning(h), isDisabled: h.transport !== 'ssh' }),
                      { isSeparator: true },
                      gateItem(gate, 'admin', { title: 'Remove', onClick: () => setRemoving(h) }),
                    ]}
                  />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      {adding && (
        <AddHostModal
          clusterId={clusterId}
          onClose={() => setAdding(false)}
          onAdded={(h) => {
            setAdding(false);
            setHosts([...hosts.filter((x) => x.id !== h.id), h]);
            reloadHosts();
          }}
        />
      )}
      {repinning && (
        <RepinModal
          host={repinning}
          onClose={() => setRepinning(null)}
          onDone={(h) => {
            setRepinning(null);
            replace(h);
            setOutcome({ variant: 'success', title: `The host key of ${h.name} is re-pinned`, lines: [h.ssh_fingerprint] });
          }}
        />
      )}
      {removing && (
        <ConfirmRemoveModal
          title={`Remove host ${removing.name}?`}
          body={<p>georep stops managing {removing.name}. A host that holds a brick or is the source host of a destination cannot be removed.</p>}
          onConfirm={() => clusterApi.removeHost(removing.id)}
          onClose={() => setRemoving(null)}
          onDone={() => {
            const id = removing.id;
            setRemoving(null);
            setHosts(hosts.filter((x) => x.id !== id));
            reloadHosts();
          }}
        />
      )}
    </>
  );
}

function AddHostModal({ clusterId, onClose, onAdded }: { clusterId: string; onClose: () => void; onAdded: (h: Host) => void }) {
  const [transport, setTransport] = useState<'ssh' | 'local'>('ssh');
  const [name, setName] = useState('');
  const [address, setAddress] = useState('');
  const [port, setPort] = useState('22');
  const [user, setUser] = useState('root');
  const [password, setPassword] = useState('');
  const [key, setKey] = useState<HostKeyChoice>({ fingerprint: '', confirmed: false });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const portNum = Number(port);
  const portOk = Number.isInteger(portNum) && portNum >= 1 && portNum <= 65535;
  const ssh = transport === 'ssh';
  const canSubmit = !busy && name.trim() !== '' && (!ssh || (address.trim() !== '' && portOk && key.confirmed && !!key.fingerprint));

  const submit = async (ev?: React.FormEvent) => {
    ev?.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    setError(null);
    try {
      const h = await clusterApi.addHost(
        clusterId,
        ssh
          ? {
              name: name.trim(), address: address.trim(), transport, ssh_port: portNum, ssh_user: user.trim() || 'root',
              ssh_fingerprint: key.fingerprint, ...(password ? { password } : {}),
            }
          : { name: name.trim(), address: address.trim() || 'localhost', transport },
      );
      setPassword('');
      onAdded(h);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <FormModal
      variant="medium"
      title="Add host"
      formId="add-host-form"
      submitLabel="Add"
      canSubmit={canSubmit}
      busy={busy}
      onClose={onClose}
    >
      <Form id="add-host-form" onSubmit={submit}>
        <FormGroup label="Transport" fieldId="host-transport">
          <FormSelect
            id="host-transport"
            value={transport}
            onChange={(_e, v) => setTransport(v as 'ssh' | 'local')}
            isDisabled={busy}
          >
            <FormSelectOption value="ssh" label="SSH (a remote host)" />
            <FormSelectOption value="local" label="Local (this machine, no SSH)" />
          </FormSelect>
        </FormGroup>
        <FormGroup label="Name" isRequired fieldId="host-name">
          <TextInput id="host-name" isRequired value={name} onChange={(_e, v) => setName(v)} isDisabled={busy} />
        </FormGroup>
        <FormGroup label="Address" isRequired={ssh} fieldId="host-address">
          <TextInput
            id="host-address"
            value={address}
            placeholder={ssh ? 'node1.example.org' : 'localhost'}
            onChange={(_e, v) => setAddress(v)}
            isDisabled={busy}
          />
        </FormGroup>
        {ssh && (
          <>
            <FormGroup label="SSH port" fieldId="host-port">
              <TextInput id="host-port" type="number" value={port} onChange={(_e, v) => setPort(v)} validated={portOk ? 'default' : 'error'} isDisabled={busy} />
            </FormGroup>
            <FormGroup label="SSH user" fieldId="host-user">
              <TextInput id="host-user" value={user} onChange={(_e, v) => setUser(v)} isDisabled={busy} />
            </FormGroup>
            <HostKeyScan address={address} port={portOk ? portNum : 22} onChange={setKey} disabled={busy || !portOk} fieldId="host-key" />
            <FormGroup label="One-time password" fieldId="host-password">
              <TextInput
                id="host-password"
                type="password"
                autoComplete="new-password"
                value={password}
                onChange={(_e, v) => setPassword(v)}
                isDisabled={busy}
              />
              <HelperText>
                <HelperTextItem>
                  Optional: the user&apos;s password, used once to install the engine&apos;s SSH key; never stored. Leave
                  empty if the engine&apos;s key is already in the user&apos;s authorized_keys.
                </HelperTextItem>
              </HelperText>
            </FormGroup>
          </>
        )}
      </Form>
      {busy && (
        <div className="pf-v5-u-mt-md">
          <BusyNote text={password ? `Installing the engine's key on ${address}…` : `Adding ${name}…`} />
        </div>
      )}
      {error && (
        <Alert variant="danger" isInline title="The host was not added" className="pf-v5-u-mt-md">
          {error}
        </Alert>
      )}
    </FormModal>
  );
}

function RepinModal({ host, onClose, onDone }: { host: Host; onClose: () => void; onDone: (h: Host) => void }) {
  const [key, setKey] = useState<HostKeyChoice>({ fingerprint: '', confirmed: false });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const changed = !!key.fingerprint && key.fingerprint !== host.ssh_fingerprint;
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      onDone(await clusterApi.repinHost(host.id, key.fingerprint));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      variant="medium"
      title={`Re-pin the host key of ${host.name}`}
      titleIconVariant="warning"
      isOpen
      onClose={busy ? undefined : onClose}
      actions={[
        <Button key="repin" variant="danger" onClick={submit} isDisabled={busy || !key.confirmed || !changed} isLoading={busy}>
          Re-pin
        </Button>,
        <Button key="cancel" variant="link" onClick={onClose} isDisabled={busy}>
          Cancel
        </Button>,
      ]}
    >
      <Alert variant="warning" isInline title="Only after the host key really changed" className="pf-v5-u-mb-md">
        A changed host key is what a man-in-the-middle looks like. Re-pin only when you know why it changed (the host
        was reinstalled, its keys were regenerated) and the new fingerprint matches the one on the host&apos;s console.
      </Alert>
      <p className="pf-v5-u-mb-md">
        Pinned now: <code className="georep-fingerprint">{host.ssh_fingerprint || 'none'}</code>
      </p>
      <HostKeyScan address={host.address} port={host.ssh_port} pinned={host.ssh_fingerprint} onChange={setKey} disabled={busy} fieldId="repin-key" />
      {key.fingerprint && !changed && <p className="pf-v5-u-mt-sm">The chosen key is the pinned one: nothing to re-pin.</p>}
      {busy && <BusyNote text="Re-pinning…" />}
      {error && (
        <Alert variant="danger" isInline title="The key was not re-pinned" className="pf-v5-u-mt-md">
          {error}
        </Alert>
      )}
    </Modal>
  );
}
