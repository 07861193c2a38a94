// Geo-Replication Destinations of a cluster: where its volumes can be replicated to, each a
// host of another cluster reached over SSH from a source host (or this machine, for directory
// volumes). New (with the host-key confirmation and the seed's "copy source cluster hosts
// public keys to destination cluster"), Test, Re-establish, Remove (forced when sessions use it).
import { useRef, useState } from 'react';
import {
  Alert, Checkbox, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm,
  EmptyState, EmptyStateBody, EmptyStateHeader, Form, FormGroup, FormSelect, FormSelectOption, HelperText,
  HelperTextItem, Spinner, TextInput, Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { api, type Destination, type Host } from '../../api';
import { useLiveEvents, usePollWhileOffline } from '../../live';
import { ErrorAlert, errorText, StatusLabel, Time, TimeText, useAsync } from '../../util';
import { gateItem, RoleButton, useRole } from '../../role';
import {
  BusyNote, FormModal, ConfirmRemoveModal, HostKeyScan, OutcomeAlert, RowActions, type HostKeyChoice, type Outcome,
} from '../common';
import { check, FieldHelper, fieldProps, useServerErrors } from '../forms';
import { loadClusterKind, type ClusterKind } from './clusterKind';

interface Row extends Destination { sessions: number | null }

// The fields of a destination, without what a test answer adds.
function plain(d: Destination): Destination {
  const { id, source_cluster_id, source_host_id, host, ssh_port, ssh_fingerprint, remote_user, connection,
    connection_reason, last_checked, created_at } = d;
  return { id, source_cluster_id, source_host_id, host, ssh_port, ssh_fingerprint, remote_user, connection,
    connection_reason, last_checked, created_at };
}

// A destination without a pinned host key is this machine (directory sessions, no SSH).
export const isLocalDestination = (d: Destination) => !d.ssh_fingerprint;

async function loadRows(clusterId: string, signal: AbortSignal): Promise<Row[]> {
  const dests = await api.destinations(clusterId, signal);
  return Promise.all(
    dests.map(async (d) => ({
      ...d,
      sessions: await api.destinationSessions(d.id, signal).then((s) => s.length, () => null),
    })),
  );
}

export function DestinationsTab({ clusterId, hosts }: { clusterId: string; hosts: Host[] }) {
  const { data, error, loading, reload, setData } = useAsync((s) => loadRows(clusterId, s), [clusterId]);
  const kind = useAsync((s) => loadClusterKind(clusterId, s), [clusterId]);
  const gluster = kind.data === 'gluster';
  const [creating, setCreating] = useState(false);
  const [reestablishing, setReestablishing] = useState<Row | null>(null);
  const [removing, setRemoving] = useState<Row | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const removedMessage = useRef('');
  const gate = useRole();
  const rows = data ?? [];

  // Merges a destination into the table (a live event, an action's answer).
  const merge = (d: Destination) =>
    setData((cur) => {
      const list = cur ?? [];
      const found = list.some((r) => r.id === d.id);
      if (!found) return [...list, { ...plain(d), sessions: 0 }];
      return list.map((r) => (r.id === d.id ? { ...r, ...plain(d) } : r));
    });
  const drop = (id: string) => setData((cur) => (cur ?? []).filter((r) => r.id !== id));

  useLiveEvents(['destination', 'destination_removed', 'audit'], (type, ev) => {
    if (type === 'resync') return reload();
    if (type === 'destination') {
      const d = ev as Destination;
      if (d?.source_cluster_id === clusterId) merge(d);
    } else if (type === 'destination_removed') {
      const id = (ev as { id?: string } | null)?.id;
      if (id) drop(id);
    } else if (type === 'audit') {
      // Sessions come and go: their counts change.
      const e = ev as { object_type?: string; action?: string } | null;
      if (e?.object_type === 'session' && (e.action === 'session.create' || e.action === 'session.remove')) reload();
      if (e?.object_type === 'destination' && (e.action === 'destination.create' || e.action === 'destination.remove')) reload();
      if (e?.object_type === 'volume' || e?.action === 'cluster.import') kind.reload();
    }
  });
  usePollWhileOffline(reload, 10000);

  const hostName = (id: string) => hosts.find((h) => h.id === id)?.name ?? id;

  const test = async (d: Row) => {
    setTesting(d.id);
    setOutcome({ variant: 'info', title: `Testing ${d.remote_user}@${d.host}…` });
    try {
      const r = await api.testDestination(d.id);
      merge(r);
      const connected = r.connection === 'Connected';
      setOutcome({
        variant: connected ? (r.warnings.length ? 'warning' : 'success') : 'danger',
        title: connected
          ? `${d.remote_user}@${d.host} is Connected${r.warnings.length ? ', with warnings' : ''}`
          : `${d.remote_user}@${d.host} is Broken`,
        lines: [...r.problems, ...r.warnings.map((w) => `Warning: ${w}`)],
      });
    } catch (e) {
      setOutcome({ variant: 'danger', title: `${d.host} could not be tested`, lines: [errorText(e)] });
    } finally {
      setTesting(null);
    }
  };

  return (
    <>
      <Toolbar aria-label="Destination actions">
        <ToolbarContent>
          <ToolbarItem>
            <RoleButton needed="admin" variant="primary" onClick={() => setCreating(true)} isDisabled={!kind.data}>
              New
            </RoleButton>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <OutcomeAlert outcome={outcome} onClose={() => setOutcome(null)} />
      <ErrorAlert error={error} title="The destinations could not be loaded" />
      {!data && loading ? (
        <Spinner aria-label="Loading destinations" />
      ) : rows.length === 0 ? (
        <EmptyState>
          <EmptyStateHeader titleText="No geo-replication destinations" headingLevel="h2" />
          <EmptyStateBody>
            A destination is a host of another cluster that this cluster&apos;s volumes replicate to. Attach one with “New”.
          </EmptyStateBody>
        </EmptyState>
      ) : (
        <Table aria-label="Geo-replication destinations" variant="compact">
          <Thead>
            <Tr>
              <Th modifier="wrap">Destination host</Th>
              <Th modifier="wrap">User</Th>
              <Th modifier="wrap">Port</Th>
              <Th modifier="wrap">Pinned host key</Th>
              <Th modifier="wrap">Source host</Th>
              <Th modifier="wrap">Connection</Th>
              <Th modifier="wrap">Last checked</Th>
              <Th modifier="wrap">Sessions</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((d) => {
              const local = isLocalDestination(d);
              return (
                <Tr key={d.id}>
                  <Td dataLabel="Destination host">{d.host}</Td>
                  <Td dataLabel="User">{d.remote_user}</Td>
                  <Td dataLabel="Port">{local ? '—' : d.ssh_port}</Td>
                  {/* Shown whole (wrapped): it is what an operator compares with the host's own. */}
                  <Td dataLabel="Pinned host key" modifier="breakWord" width={25}>
                    {local ? 'none (this machine)' : <code className="georep-fingerprint">{d.ssh_fingerprint}</code>}
                  </Td>
                  <Td dataLabel="Source host">{hostName(d.source_host_id)}</Td>
                  <Td dataLabel="Connection">
                    {testing === d.id ? (
                      <BusyNote text="Testing…" />
                    ) : (
                      <>
                        <StatusLabel status={d.connection} title={d.connection_reason || undefined} />
                        {d.connection_reason && <div className="georep-reason"><TimeText text={d.connection_reason} /></div>}
                      </>
                    )}
                  </Td>
                  <Td dataLabel="Last checked">
                    <Time iso={d.last_checked} empty="never" />
                  </Td>
                  <Td dataLabel="Sessions">{d.sessions ?? '—'}</Td>
                  <Td isActionCell>
                    <RowActions
                      label={`${d.remote_user}@${d.host}`}
                      items={[
                        gateItem(gate, 'operator', { title: 'Test', onClick: () => test(d), isDisabled: testing === d.id }),
                        // A Gluster cluster's key exchange again, or (directory volumes) the
                        // workers' keys and the destination's pinned key on the source hosts.
                        gateItem(gate, 'admin', {
                          title: 'Re-establish',
                          onClick: () => setReestablishing(d),
                          // This machine: there are no keys to exchange.
                          isDisabled: local,
                          description: local ? 'This machine: no keys to exchange' : undefined,
                        }),
                        { isSeparator: true },
                        gateItem(gate, 'admin', { title: 'Remove', onClick: () => setRemoving(d) }),
                      ]}
                    />
                  </Td>
                </Tr>
              );
            })}
          </Tbody>
        </Table>
      )}
      {creating && kind.data && (
        <NewDestinationModal
          clusterId={clusterId}
          kind={kind.data}
          hosts={hosts}
          onClose={() => setCreating(false)}
          onCreated={(d, copied) => {
            setCreating(false);
            merge(d);
            if (copied && d.connection === 'Broken') {
              setOutcome({
                variant: 'warning',
                title: `${d.remote_user}@${d.host} is attached, but its keys were not installed`,
                lines: [d.connection_reason, 'Fix the cause, then use Re-establish.'],
              });
            } else {
              setOutcome({ variant: 'success', title: `${d.remote_user}@${d.host} is attached` });
            }
            reload();
          }}
        />
      )}
      {reestablishing && (
        <ReestablishModal
          destination={reestablishing}
          gluster={gluster}
          onClose={() => setReestablishing(null)}
          onUpdated={merge}
          onDone={(d) => {
            setReestablishing(null);
            setOutcome({ variant: 'success', title: `Keys re-established on ${d.remote_user}@${d.host}` });
          }}
        />
      )}
      {removing && (
        <ConfirmRemoveModal
          title={`Remove destination ${removing.remote_user}@${removing.host}?`}
          body={
            <p>
              georep detaches the destination and removes the source cluster&apos;s geo-replication keys
              from the remote user&apos;s authorized_keys on every destination node it reaches (it says
              where they remain).
              {removing.sessions ? ` ${removing.sessions} session(s) use it.` : ''}
            </p>
          }
          forceLabel="Remove anyway (force)"
          onConfirm={async (force) => {
            removedMessage.current = (await api.removeDestination(removing.id, force)).message;
          }}
          onClose={() => setRemoving(null)}
          onDone={() => {
            const id = removing.id;
            setRemoving(null);
            drop(id);
            const said = removedMessage.current;
            setOutcome({
              variant: said.includes('remain') ? 'warning' : 'success',
              title: `${removing.remote_user}@${removing.host} is removed`,
              lines: said ? [said] : [],
            });
          }}
        />
      )}
    </>
  );
}

function NewDestinationModal({
  clusterId, kind, hosts, onClose, onCreated,
}: {
  clusterId: string; kind: ClusterKind; hosts: Host[]; onClose: () => void; onCreated: (d: Destination, copiedKeys: boolean) => void;
}) {
  const gluster = kind === 'gluster';
  const [sourceHost, setSourceHost] = useState(hosts[0]?.id ?? '');
  const [localChosen, setLocal] = useState(false);
  const [host, setHost] = useState('');
  const [port, setPort] = useState('22');
  const [user, setUser] = useState('root');
  const [password, setPassword] = useState('');
  // gluster's push-pem: on by default for a Gluster cluster, never offered for directory volumes.
  const [copyKeysChosen, setCopyKeys] = useState(true);
  const [key, setKey] = useState<HostKeyChoice>({ fingerprint: '', confirmed: false });
  const [busy, setBusy] = useState(false);
  const source = hosts.find((h) => h.id === sourceHost);
  // This machine as the destination: directory volumes reached from a local source host (the
  // engine copies without ssh only then).
  const canBeLocal = !gluster && source?.transport === 'local';
  const local = canBeLocal && localChosen;
  const copyKeys = gluster && copyKeysChosen;
  const server = useServerErrors(local ? ['source_host_id', 'remote_user'] :
    ['source_host_id', 'host', 'ssh_port', 'remote_user', 'ssh_fingerprint', 'password', 'copy_keys']);
  const portNum = Number(port);
  const portOk = !check.port(port);
  const target = local ? 'localhost' : host.trim();
  const hostError = local ? null : check.hostName(host.trim()) ?? server.on('host');
  const portError = check.port(port) ?? server.on('ssh_port');
  const userError = check.unixUser(user.trim()) ?? server.on('remote_user');
  const clientOk = !check.unixUser(user.trim()) && (local || (!check.hostName(host.trim()) && portOk));
  const canSubmit =
    !busy && clientOk && sourceHost !== '' && target !== '' && (local || (key.confirmed && !!key.fingerprint));

  const submit = async (ev?: React.FormEvent) => {
    ev?.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    server.clear();
    try {
      const d = await api.createDestination(
        clusterId,
        local
          ? { source_host_id: sourceHost, host: target, ssh_port: 22, remote_user: user.trim() || 'root', ssh_fingerprint: '', copy_keys: false }
          : {
              source_host_id: sourceHost, host: target, ssh_port: portNum, remote_user: user.trim() || 'root',
              ssh_fingerprint: key.fingerprint, copy_keys: copyKeys, ...(password ? { password } : {}),
            },
      );
      setPassword('');
      onCreated(d, !local && copyKeys);
    } catch (e) {
      server.fail(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <FormModal
      variant="medium"
      title="New Geo-Replication Destination"
      formId="new-destination-form"
      submitLabel="Create"
      canSubmit={canSubmit}
      busy={busy}
      onClose={onClose}
    >
      {hosts.length === 0 && (
        <Alert variant="warning" isInline title="This cluster has no host" className="pf-v5-u-mb-md">
          The destination is reached from a source host of this cluster: add a host first.
        </Alert>
      )}
      <Form id="new-destination-form" onSubmit={submit}>
        <FormGroup label="Source host" isRequired fieldId="dest-source-host">
          <FormSelect id="dest-source-host" value={sourceHost} isDisabled={busy || hosts.length === 0}
            {...fieldProps('dest-source-host', server.on('source_host_id'), false)}
            onChange={(_e, v) => { setSourceHost(v); server.touched('source_host_id'); }}>
            {hosts.map((h) => (
              <FormSelectOption key={h.id} value={h.id} label={`${h.name} (${h.transport === 'local' ? 'this machine' : h.address})`} />
            ))}
          </FormSelect>
          <FieldHelper fieldId="dest-source-host" error={server.on('source_host_id')} />
        </FormGroup>
        {canBeLocal && (
          <Checkbox
            id="dest-local"
            label="This destination is this machine (directory volumes, no SSH)"
            isChecked={local}
            onChange={(_e, v) => setLocal(v)}
            isDisabled={busy}
          />
        )}
        <FormGroup label="Destination host" isRequired fieldId="dest-host">
          <TextInput
            id="dest-host"
            isRequired
            value={local ? 'localhost' : host}
            readOnlyVariant={local ? 'default' : undefined}
            placeholder="remote.example.org"
            onChange={(_e, v) => { setHost(v); server.touched('host'); }}
            isDisabled={busy}
            {...fieldProps('dest-host', hostError, false)}
          />
          <FieldHelper fieldId="dest-host" error={hostError} />
        </FormGroup>
        {!local && (
          <FormGroup label="SSH port" fieldId="dest-port">
            <TextInput id="dest-port" type="number" value={port} isDisabled={busy} {...fieldProps('dest-port', portError, false)}
              onChange={(_e, v) => { setPort(v); server.touched('ssh_port'); }} />
            <FieldHelper fieldId="dest-port" error={portError} />
          </FormGroup>
        )}
        <FormGroup label="User" fieldId="dest-user">
          <TextInput id="dest-user" value={user} isDisabled={busy} {...fieldProps('dest-user', userError)}
            onChange={(_e, v) => { setUser(v); server.touched('remote_user'); }} />
          <FieldHelper fieldId="dest-user" error={userError}>
            The account the source hosts log in to on the destination; root unless you use a mountbroker user.
          </FieldHelper>
        </FormGroup>
        {!local && (
          <>
            <HostKeyScan address={host} port={portOk ? portNum : 22} onChange={setKey} disabled={busy || !portOk || !!hostError}
              fieldId="dest-key" error={server.on('ssh_fingerprint')} />
            <FormGroup label="One-time root password" fieldId="dest-password">
              <TextInput
                id="dest-password"
                type="password"
                autoComplete="new-password"
                value={password}
                onChange={(_e, v) => { setPassword(v); server.touched('password'); }}
                isDisabled={busy}
                {...fieldProps('dest-password', server.on('password'))}
              />
              <FieldHelper fieldId="dest-password" error={server.on('password')}>
                Optional: root&apos;s password on the destination host, used once to install georep&apos;s key there (against the confirmed host key). Never stored.
              </FieldHelper>
            </FormGroup>
            {gluster && (
              <Checkbox
                id="dest-copy-keys"
                label="Copy source cluster hosts public keys to destination cluster"
                description="Runs gsec_create on the source host and installs the keys on the destination (as gluster's push-pem)."
                isChecked={copyKeys}
                onChange={(_e, v) => setCopyKeys(v)}
                isDisabled={busy}
              />
            )}
          </>
        )}
      </Form>
      {busy && (
        <div className="pf-v5-u-mt-md">
          <BusyNote text={copyKeys && !local ? `Installing keys on ${target}… (this can take a minute)` : `Attaching ${target}…`} />
        </div>
      )}
      {server.alert && (
        <Alert variant="danger" isInline title="The destination was not created" className="pf-v5-u-mt-md">
          {server.alert}
        </Alert>
      )}
    </FormModal>
  );
}

function ReestablishModal({
  destination, gluster, onClose, onUpdated, onDone,
}: {
  destination: Destination; gluster: boolean; onClose: () => void; onUpdated: (d: Destination) => void; onDone: (d: Destination) => void;
}) {
  // What the engine last said about the destination (a re-pin changes its key even if the
  // key exchange then fails).
  const [d, setD] = useState<Destination>(destination);
  const [key, setKeyState] = useState<HostKeyChoice>({ fingerprint: '', confirmed: false });
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const server = useServerErrors(['ssh_fingerprint', 'password']);
  // The engine did the exchange and the destination is still Broken: its reason.
  const [stillBroken, setStillBroken] = useState<string | null>(null);
  const error = server.alert ?? stillBroken;
  const setKey = (k: HostKeyChoice) => {
    setKeyState(k);
    server.clear();
    setStillBroken(null);
  };
  const pinned = d.ssh_fingerprint;
  const changed = !!key.fingerprint && key.fingerprint !== pinned;
  // The pinned key is used unless a fresh fetch shows another one, which must be confirmed.
  const keyOk = changed ? key.confirmed : !!pinned || (!!key.fingerprint && key.confirmed);
  const canSubmit = !busy && keyOk;

  const submit = async (ev?: React.FormEvent) => {
    ev?.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    server.clear();
    setStillBroken(null);
    try {
      const r = await api.reestablishDestination(d.id, {
        ...(changed || !pinned ? { ssh_fingerprint: key.fingerprint } : {}),
        ...(password ? { password } : {}),
      });
      setPassword('');
      onUpdated(r);
      setD(plain(r));
      if (r.connection === 'Broken') setStillBroken(r.connection_reason || 'The destination is still Broken.');
      else onDone(r);
    } catch (e) {
      server.fail(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <FormModal
      variant="medium"
      title={`Re-establish ${d.remote_user}@${d.host}`}
      formId="reestablish-form"
      submitLabel="Re-establish"
      canSubmit={canSubmit}
      busy={busy}
      onClose={onClose}
    >
      <p className="pf-v5-u-mb-md">
        {gluster
          ? 'Installs the source cluster hosts\u2019 public keys on the destination again, as when it was created.'
          : 'Pins the destination\u2019s host key on each source host again and has the destination accept their workers\u2019 keys, then tests it.'}
      </p>
      <DescriptionList isHorizontal isCompact className="pf-v5-u-mb-md">
        <DescriptionListGroup>
          <DescriptionListTerm>Destination host</DescriptionListTerm>
          <DescriptionListDescription>{d.host}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>SSH port</DescriptionListTerm>
          <DescriptionListDescription>{d.ssh_port}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>User</DescriptionListTerm>
          <DescriptionListDescription>{d.remote_user}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Pinned host key</DescriptionListTerm>
          <DescriptionListDescription>
            {pinned ? <code className="georep-fingerprint">{pinned}</code> : 'none'}
          </DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Connection</DescriptionListTerm>
          <DescriptionListDescription>
            <StatusLabel status={d.connection} /> <TimeText text={d.connection_reason} />
          </DescriptionListDescription>
        </DescriptionListGroup>
      </DescriptionList>
      <Form id="reestablish-form" onSubmit={submit}>
        <HostKeyScan address={d.host} port={d.ssh_port} pinned={pinned || undefined} onChange={setKey} disabled={busy} fieldId="reest-key"
          error={server.on('ssh_fingerprint')} />
        {!pinned && !key.fingerprint && (
          <HelperText>
            <HelperTextItem variant="warning">No host key is pinned: fetch it and confirm it first.</HelperTextItem>
          </HelperText>
        )}
        <FormGroup label="One-time root password" fieldId="reest-password">
          <TextInput id="reest-password" type="password" autoComplete="new-password" value={password} isDisabled={busy}
            {...fieldProps('reest-password', server.on('password'))}
            onChange={(_e, v) => { setPassword(v); server.touched('password'); }} />
          <FieldHelper fieldId="reest-password" error={server.on('password')}>
            Optional: root&apos;s password on the destination host, used once to install georep&apos;s key there (against the confirmed host key). Never stored.
          </FieldHelper>
        </FormGroup>
      </Form>
      {busy && (
        <div className="pf-v5-u-mt-md">
          <BusyNote text={`Installing keys on ${d.host}… (this can take a minute)`} />
        </div>
      )}
      {error && (
        <Alert variant="danger" isInline title="The keys were not re-established" className="pf-v5-u-mt-md">
          {error}
        </Alert>
      )}
    </FormModal>
  );
}
