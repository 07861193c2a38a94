// A cluster's hosts: how the engine reaches each (this machine, or SSH with a pinned host key),
// its status and when it last answered. Add host, Check, Re-pin (after a host key really
// changed), Remove.
import { useState } from 'react';
import {
  Alert, Button, EmptyState, EmptyStateBody, EmptyStateHeader, Form, FormGroup, FormSelect, FormSelectOption, Modal, TextInput, Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { Host } from '../../api';
import { clusterApi } from '../../apiClusters';
import { errorText, StatusLabel, Time } from '../../util';
import { gateItem, RoleButton, useRole } from '../../role';
import {
  BusyNote, FormModal, ConfirmRemoveModal, HostKeyScan, OutcomeAlert, RowActions, type HostKeyChoice, type Outcome,
} from '../common';
import { check, FieldHelper, fieldProps, useServerErrors } from '../forms';

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
                  <Time iso={h.last_seen} empty="never" />
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
  const ssh = transport === 'ssh';
  const server = useServerErrors(ssh ? ['name', 'address', 'ssh_port', 'ssh_user', 'ssh_fingerprint', 'password'] : ['name']);
  const portNum = Number(port);
  const portOk = !check.port(port);
  // A local host is this machine: its address is localhost, whatever was typed for SSH before.
  const nameError = check.hostName(name.trim()) ?? server.on('name');
  const addressError = ssh ? check.hostName(address.trim()) ?? server.on('address') : null;
  const portError = check.port(port) ?? server.on('ssh_port');
  const userError = check.unixUser(user.trim()) ?? server.on('ssh_user');
  const clientOk = !check.hostName(name.trim()) &&
    (!ssh || (!check.hostName(address.trim()) && portOk && !check.unixUser(user.trim())));
  const canSubmit = !busy && clientOk && name.trim() !== '' && (!ssh || (address.trim() !== '' && key.confirmed && !!key.fingerprint));

  const chooseTransport = (t: 'ssh' | 'local') => {
    setTransport(t);
    server.clear();
    if (t === 'local') {
      // Nothing typed for SSH is kept: a local host is saved with none of it.
      setAddress('');
      setPassword('');
      setKey({ fingerprint: '', confirmed: false });
    }
  };

  const submit = async (ev?: React.FormEvent) => {
    ev?.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    server.clear();
    try {
      const h = await clusterApi.addHost(
        clusterId,
        ssh
          ? {
              name: name.trim(), address: address.trim(), transport, ssh_port: portNum, ssh_user: user.trim() || 'root',
              ssh_fingerprint: key.fingerprint, ...(password ? { password } : {}),
            }
          : { name: name.trim(), address: 'localhost', transport },
      );
      setPassword('');
      onAdded(h);
    } catch (e) {
      server.fail(e);
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
            onChange={(_e, v) => chooseTransport(v as 'ssh' | 'local')}
            isDisabled={busy}
          >
            <FormSelectOption value="ssh" label="SSH (a remote host)" />
            <FormSelectOption value="local" label="Local (this machine, no SSH)" />
          </FormSelect>
        </FormGroup>
        <FormGroup label="Name" isRequired fieldId="host-name">
          <TextInput id="host-name" isRequired value={name} isDisabled={busy} {...fieldProps('host-name', nameError)}
            onChange={(_e, v) => { setName(v); server.touched('name'); }} />
          <FieldHelper fieldId="host-name" error={nameError}>A host name: letters, digits, “-” and “.”.</FieldHelper>
        </FormGroup>
        <FormGroup label="Address" isRequired={ssh} fieldId="host-address">
          <TextInput
            id="host-address"
            value={ssh ? address : 'localhost'}
            placeholder="node1.example.org"
            readOnlyVariant={ssh ? undefined : 'default'}
            onChange={(_e, v) => { setAddress(v); server.touched('address'); }}
            isDisabled={busy}
            {...fieldProps('host-address', addressError)}
          />
          <FieldHelper fieldId="host-address" error={addressError}>
            {ssh ? 'The name or IP address the engine connects to over SSH.' : 'Local: the engine runs commands on this machine itself.'}
          </FieldHelper>
        </FormGroup>
        {ssh && (
          <>
            <FormGroup label="SSH port" fieldId="host-port">
              <TextInput id="host-port" type="number" value={port} isDisabled={busy} {...fieldProps('host-port', portError, false)}
                onChange={(_e, v) => { setPort(v); server.touched('ssh_port'); }} />
              <FieldHelper fieldId="host-port" error={portError} />
            </FormGroup>
            <FormGroup label="SSH user" fieldId="host-user">
              <TextInput id="host-user" value={user} isDisabled={busy} {...fieldProps('host-user', userError, false)}
                onChange={(_e, v) => { setUser(v); server.touched('ssh_user'); }} />
              <FieldHelper fieldId="host-user" error={userError} />
            </FormGroup>
            <HostKeyScan address={address} port={portOk ? portNum : 22} onChange={setKey} disabled={busy || !portOk || !!addressError}
              fieldId="host-key" error={server.on('ssh_fingerprint')} />
            <FormGroup label="One-time password" fieldId="host-password">
              <TextInput
                id="host-password"
                type="password"
                autoComplete="new-password"
                value={password}
                onChange={(_e, v) => { setPassword(v); server.touched('password'); }}
                isDisabled={busy}
                {...fieldProps('host-password', server.on('password'))}
              />
              <FieldHelper fieldId="host-password" error={server.on('password')}>
                Optional: the user&apos;s password, used once to install the engine&apos;s SSH key; never stored. Leave
                empty if the engine&apos;s key is already in the user&apos;s authorized_keys.
              </FieldHelper>
            </FormGroup>
          </>
        )}
      </Form>
      {busy && (
        <div className="pf-v5-u-mt-md">
          <BusyNote text={password ? `Installing the engine's key on ${address}…` : `Adding ${name}…`} />
        </div>
      )}
      {server.alert && (
        <Alert variant="danger" isInline title="The host was not added" className="pf-v5-u-mt-md">
          {server.alert}
        </Alert>
      )}
    </FormModal>
  );
}

function RepinModal({ host, onClose, onDone }: { host: Host; onClose: () => void; onDone: (h: Host) => void }) {
  const [key, setKey] = useState<HostKeyChoice>({ fingerprint: '', confirmed: false });
  const [busy, setBusy] = useState(false);
  const server = useServerErrors(['fingerprint']);
  const changed = !!key.fingerprint && key.fingerprint !== host.ssh_fingerprint;
  const submit = async () => {
    setBusy(true);
    server.clear();
    try {
      onDone(await clusterApi.repinHost(host.id, key.fingerprint));
    } catch (e) {
      server.fail(e);
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
      <HostKeyScan address={host.address} port={host.ssh_port} pinned={host.ssh_fingerprint} onChange={setKey} disabled={busy} fieldId="repin-key"
        error={server.on('fingerprint')} />
      {key.fingerprint && !changed && <p className="pf-v5-u-mt-sm">The chosen key is the pinned one: nothing to re-pin.</p>}
      {busy && <BusyNote text="Re-pinning…" />}
      {server.alert && (
        <Alert variant="danger" isInline title="The key was not re-pinned" className="pf-v5-u-mt-md">
          {server.alert}
        </Alert>
      )}
    </Modal>
  );
}
