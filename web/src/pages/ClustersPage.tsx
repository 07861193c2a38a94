// Clusters: every cluster the engine manages, with counts of hosts, volumes and destinations and
// the worst status of its sessions;
// "New cluster" (an empty one for directory volumes, or a Gluster cluster imported through one
// of its hosts after its host key is confirmed) and "Remove".
import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import {
  Alert, EmptyState, EmptyStateBody, EmptyStateHeader, EmptyStateIcon, Form, FormGroup, PageSection, Radio, Spinner, TextInput, Title, Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import CubesIcon from '@patternfly/react-icons/dist/esm/icons/cubes-icon';
import { api, type Cluster, type Destination, type Host, type Session, type Volume } from '../api';
import { clusterApi } from '../apiClusters';
import { useLiveEvents, usePollWhileOffline } from '../live';
import { gateItem, RoleButton, useRole } from '../role';
import { ErrorAlert, Time, useAsync } from '../util';
import {
  BusyNote, FormModal, ConfirmRemoveModal, HostKeyScan, RowActions, type HostKeyChoice,
} from '../components/common';
import { asSession, mergeSession, removedId } from '../components/sessionModel';
import { WorstStatusLabel } from '../components/SessionStatus';
import { sessionsOfCluster } from '../fleet';
import { check, FieldHelper, fieldProps, useServerErrors } from '../components/forms';

interface ClusterRow extends Cluster { hosts: number; volumes: number; destinations: number | null }

// The clusters with their counts, and what the worst-status column needs: every volume, host,
// destination and session (sessions then follow the live stream).
interface Data {
  rows: ClusterRow[]; volumes: Volume[]; hosts: Host[]; destinations: Destination[]; sessions: Session[] | null;
}

async function loadClusters(signal: AbortSignal): Promise<Data> {
  const [clusters, volumes, sessions] = await Promise.all([
    api.clusters(signal), api.volumes(signal), api.sessions(signal).catch(() => null),
  ]);
  const each = await Promise.all(
    clusters.map(async (c) => {
      const [hosts, dests] = await Promise.all([
        api.hosts(c.id, signal),
        api.destinations(c.id, signal).catch(() => null),
      ]);
      return { c, hosts, dests };
    }),
  );
  return {
    rows: each.map(({ c, hosts, dests }) => ({
      ...c,
      hosts: hosts.length,
      volumes: volumes.filter((v) => v.cluster_id === c.id).length,
      destinations: dests ? dests.length : null,
    })),
    volumes,
    hosts: each.flatMap((x) => x.hosts),
    destinations: each.flatMap((x) => x.dests ?? []),
    sessions,
  };
}

export function ClustersPage() {
  const { data, error, loading, reload, setData } = useAsync(loadClusters, []);
  const [creating, setCreating] = useState(false);
  const [removing, setRemoving] = useState<ClusterRow | null>(null);
  const navigate = useNavigate();
  const gate = useRole();

  useLiveEvents(['audit', 'destination', 'destination_removed', 'session', 'session_removed'], (type, ev) => {
    if (type === 'session') {
      const s = asSession(ev);
      if (s) setData((cur) => (cur?.sessions ? { ...cur, sessions: mergeSession(cur.sessions, s) } : cur));
      return;
    }
    if (type === 'session_removed') {
      const id = removedId(ev);
      if (id) setData((cur) => (cur?.sessions ? { ...cur, sessions: cur.sessions.filter((x) => x.id !== id) } : cur));
      return;
    }
    if (type !== 'audit') return reload();
    const t = (ev as { object_type?: string } | null)?.object_type;
    if (t === 'cluster' || t === 'host' || t === 'volume' || t === 'destination') reload();
  });
  usePollWhileOffline(reload, 10000);

  const rows = data?.rows ?? [];
  const worst = (c: ClusterRow) =>
    data?.sessions ? <WorstStatusLabel sessions={sessionsOfCluster(c, data.volumes, data.sessions, data.destinations, data.hosts)} /> : '—';
  return (
    <>
      <PageSection variant="light">
        <Title headingLevel="h1">Clusters</Title>
        <p className="pf-v5-u-color-200">
          The clusters georep manages: Gluster clusters imported through one of their hosts, and clusters of plain
          directory volumes.
        </p>
      </PageSection>
      <PageSection>
        <Toolbar aria-label="Cluster actions">
          <ToolbarContent>
            <ToolbarItem>
              <RoleButton needed="admin" variant="primary" onClick={() => setCreating(true)}>
                New cluster
              </RoleButton>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <ErrorAlert error={error} title="The clusters could not be loaded" />
        {!data && loading ? (
          <Spinner aria-label="Loading clusters" />
        ) : rows.length === 0 && !error ? (
          <EmptyState>
            <EmptyStateHeader titleText="No clusters yet" headingLevel="h2" icon={<EmptyStateIcon icon={CubesIcon} />} />
            <EmptyStateBody>
              Import a Gluster cluster, or create an empty cluster for directory volumes, with “New cluster”.
            </EmptyStateBody>
          </EmptyState>
        ) : (
          <Table aria-label="Clusters" variant="compact">
            <Thead>
              <Tr>
                <Th>Name</Th>
                <Th>Description</Th>
                <Th>Hosts</Th>
                <Th>Volumes</Th>
                <Th>Destinations</Th>
                <Th info={{ tooltip: 'The worst status among the sessions from or to this cluster' }}>Session status</Th>
                <Th>Created</Th>
                <Th screenReaderText="Actions" />
              </Tr>
            </Thead>
            <Tbody>
              {rows.map((c) => (
                <Tr key={c.id} isClickable onRowClick={(ev) => {
                  // A click on the link or the kebab does its own thing.
                  if ((ev?.target as HTMLElement | undefined)?.closest('a,button')) return;
                  navigate(`/clusters/${c.id}`);
                }}>
                  <Td dataLabel="Name">
                    <Link to={`/clusters/${c.id}`}>{c.name}</Link>
                  </Td>
                  <Td dataLabel="Description">{c.description || '—'}</Td>
                  <Td dataLabel="Hosts">{c.hosts}</Td>
                  <Td dataLabel="Volumes">{c.volumes}</Td>
                  <Td dataLabel="Destinations">{c.destinations ?? '—'}</Td>
                  <Td dataLabel="Session status">{worst(c)}</Td>
                  <Td dataLabel="Created"><Time iso={c.created_at} show="both" /></Td>
                  <Td isActionCell>
                    <RowActions
                      label={c.name}
                      items={[
                        { title: 'Open', onClick: () => navigate(`/clusters/${c.id}`) },
                        gateItem(gate, 'admin', { title: 'Remove', onClick: () => setRemoving(c) }),
                      ]}
                    />
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </PageSection>
      {creating && (
        <NewClusterModal
          onClose={() => setCreating(false)}
          onCreated={(c) => {
            setCreating(false);
            reload();
            navigate(`/clusters/${c.id}`);
          }}
        />
      )}
      {removing && (
        <ConfirmRemoveModal
          title={`Remove cluster ${removing.name}?`}
          body={
            <p>
              georep forgets the cluster, its hosts and its volumes. Nothing is changed on the hosts. A cluster that still
              has destinations or sessions cannot be removed.
            </p>
          }
          onConfirm={() => clusterApi.removeCluster(removing.id)}
          onClose={() => setRemoving(null)}
          onDone={() => {
            setRemoving(null);
            reload();
          }}
        />
      )}
    </>
  );
}

function NewClusterModal({ onClose, onCreated }: { onClose: () => void; onCreated: (c: Cluster) => void }) {
  const [kind, setKind] = useState<'empty' | 'import'>('empty');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [address, setAddress] = useState('');
  const [port, setPort] = useState('22');
  const [user, setUser] = useState('root');
  const [key, setKey] = useState<HostKeyChoice>({ fingerprint: '', confirmed: false });
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const server = useServerErrors(kind === 'empty' ? ['name', 'description'] : ['name', 'address', 'ssh_port', 'ssh_user', 'ssh_fingerprint', 'password']);
  const portNum = Number(port);
  const nameError = check.objectName(name.trim()) ?? server.on('name');
  const addressError = check.hostName(address.trim()) ?? server.on('address');
  const portError = check.port(port) ?? server.on('ssh_port');
  const userError = check.unixUser(user.trim()) ?? server.on('ssh_user');
  const portOk = !check.port(port);
  const clientOk = !check.objectName(name.trim()) &&
    (kind === 'empty' || (!check.hostName(address.trim()) && portOk && !check.unixUser(user.trim())));

  const canSubmit =
    !busy && clientOk && name.trim() !== '' && (kind === 'empty' || (address.trim() !== '' && key.confirmed && !!key.fingerprint));

  const submit = async (ev?: React.FormEvent) => {
    ev?.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    server.clear();
    try {
      if (kind === 'empty') {
        onCreated(await api.createCluster(name.trim(), description.trim()));
      } else {
        const r = await clusterApi.importCluster({
          name: name.trim(), address: address.trim(), ssh_port: portNum, ssh_user: user.trim() || 'root',
          ssh_fingerprint: key.fingerprint, ...(password ? { password } : {}),
        });
        onCreated(r.cluster);
      }
    } catch (e) {
      server.fail(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <FormModal
      variant="medium"
      title="New cluster"
      formId="new-cluster-form"
      submitLabel={kind === 'empty' ? 'Create' : 'Import'}
      canSubmit={canSubmit}
      busy={busy}
      onClose={onClose}
    >
      <Form id="new-cluster-form" onSubmit={submit}>
        <FormGroup role="radiogroup" isInline fieldId="cluster-kind" label="Kind of cluster" isStack>
          <Radio
            id="cluster-kind-empty"
            name="cluster-kind"
            label="An empty cluster for directory volumes"
            description="Add its hosts and directory volumes afterwards."
            isChecked={kind === 'empty'}
            onChange={() => { setKind('empty'); server.clear(); }}
            isDisabled={busy}
          />
          <Radio
            id="cluster-kind-import"
            name="cluster-kind"
            label="Import a Gluster cluster"
            description="georep logs in to one host over SSH and discovers its peers and volumes."
            isChecked={kind === 'import'}
            onChange={() => { setKind('import'); server.clear(); }}
            isDisabled={busy}
          />
        </FormGroup>
        <FormGroup label="Name" isRequired fieldId="cluster-name">
          <TextInput id="cluster-name" isRequired value={name} isDisabled={busy} {...fieldProps('cluster-name', nameError)}
            onChange={(_e, v) => { setName(v); server.touched('name'); }} />
          <FieldHelper fieldId="cluster-name" error={nameError}>
            Letters, digits, “.”, “-” and “_”, starting with a letter or digit.
          </FieldHelper>
        </FormGroup>
        {kind === 'empty' ? (
          <FormGroup label="Description" fieldId="cluster-description">
            <TextInput id="cluster-description" value={description} isDisabled={busy}
              {...fieldProps('cluster-description', server.on('description'), false)}
              onChange={(_e, v) => { setDescription(v); server.touched('description'); }} />
            <FieldHelper fieldId="cluster-description" error={server.on('description')} />
          </FormGroup>
        ) : (
          <>
            <FormGroup label="Address of one host" isRequired fieldId="cluster-address">
              <TextInput id="cluster-address" isRequired value={address} isDisabled={busy}
                {...fieldProps('cluster-address', addressError, false)}
                onChange={(_e, v) => { setAddress(v); server.touched('address'); }} />
              <FieldHelper fieldId="cluster-address" error={addressError} />
            </FormGroup>
            <FormGroup label="SSH port" fieldId="cluster-port">
              <TextInput
                id="cluster-port"
                type="number"
                value={port}
                onChange={(_e, v) => { setPort(v); server.touched('ssh_port'); }}
                {...fieldProps('cluster-port', portError, false)}
                isDisabled={busy}
              />
              <FieldHelper fieldId="cluster-port" error={portError} />
            </FormGroup>
            <FormGroup label="SSH user" fieldId="cluster-user">
              <TextInput id="cluster-user" value={user} isDisabled={busy} {...fieldProps('cluster-user', userError, false)}
                onChange={(_e, v) => { setUser(v); server.touched('ssh_user'); }} />
              <FieldHelper fieldId="cluster-user" error={userError} />
            </FormGroup>
            <HostKeyScan address={address} port={portOk ? portNum : 22} onChange={setKey} disabled={busy || !portOk || !!addressError}
              fieldId="cluster-key" error={server.on('ssh_fingerprint')} />
            <FormGroup label="One-time password" fieldId="cluster-password">
              <TextInput
                id="cluster-password"
                type="password"
                autoComplete="new-password"
                value={password}
                onChange={(_e, v) => { setPassword(v); server.touched('password'); }}
                {...fieldProps('cluster-password', server.on('password'))}
                isDisabled={busy}
              />
              <FieldHelper fieldId="cluster-password" error={server.on('password')}>
                Optional: the user&apos;s password on that host, used once to install the engine&apos;s SSH key there
                (against the confirmed host key); never stored. Leave empty if the engine&apos;s key is already in the
                user&apos;s authorized_keys.
              </FieldHelper>
            </FormGroup>
          </>
        )}
      </Form>
      {busy && (
        <div className="pf-v5-u-mt-md">
          <BusyNote text={kind === 'empty' ? 'Creating the cluster…' : `Discovering the peers and volumes of ${address}…`} />
        </div>
      )}
      {server.alert && (
        <Alert variant="danger" isInline title={kind === 'empty' ? 'The cluster was not created' : 'The cluster was not imported'} className="pf-v5-u-mt-md">
          {server.alert}
        </Alert>
      )}
    </FormModal>
  );
}
