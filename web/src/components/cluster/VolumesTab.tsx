// A cluster's volumes: Gluster volumes (discovered) and directory volumes (a path on a host).
// "Add directory volume" and "Remove"; each name opens the volume's page.
import { useState } from 'react';
import { Link } from 'react-router-dom';
import {
  Alert, EmptyState, EmptyStateBody, EmptyStateHeader, Form, FormGroup, FormSelect, FormSelectOption, Spinner, TextInput, Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { api, type Host, type Volume } from '../../api';
import { clusterApi } from '../../apiClusters';
import { useLiveEvents, usePollWhileOffline } from '../../live';
import { ErrorAlert, formatBytes, StatusLabel, useAsync } from '../../util';
import { gateItem, RoleButton, useRole } from '../../role';
import {
  BusyNote, FormModal, ConfirmRemoveModal, RowActions,
} from '../common';
import { check, FieldHelper, fieldProps, useServerErrors } from '../forms';

export function VolumesTab({ clusterId, hosts }: { clusterId: string; hosts: Host[] }) {
  const { data, error, loading, reload } = useAsync((s) => api.clusterVolumes(clusterId, s), [clusterId]);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Volume | null>(null);
  const gate = useRole();
  useLiveEvents(['audit'], (type, ev) => {
    if (type === 'resync' || (ev as { object_type?: string } | null)?.object_type === 'volume') reload();
  });
  usePollWhileOffline(reload, 10000);
  const hostName = (id: string) => hosts.find((h) => h.id === id)?.name ?? id;
  const volumes = data ?? [];

  return (
    <>
      <Toolbar aria-label="Volume actions">
        <ToolbarContent>
          <ToolbarItem>
            <RoleButton needed="admin" variant="primary" onClick={() => setAdding(true)}>
              Add directory volume
            </RoleButton>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <ErrorAlert error={error} title="The volumes could not be loaded" />
      {!data && loading ? (
        <Spinner aria-label="Loading volumes" />
      ) : volumes.length === 0 ? (
        <EmptyState>
          <EmptyStateHeader titleText="No volumes" headingLevel="h2" />
          <EmptyStateBody>
            Gluster volumes appear when a cluster is imported; add a directory on one of the hosts with “Add directory volume”.
          </EmptyStateBody>
        </EmptyState>
      ) : (
        <Table aria-label="Volumes" variant="compact">
          <Thead>
            <Tr>
              <Th>Name</Th>
              <Th>Kind</Th>
              <Th>Status</Th>
              <Th>Bricks / path</Th>
              <Th>Used / size</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {volumes.map((v) => (
              <Tr key={v.id}>
                <Td dataLabel="Name">
                  <Link to={`/volumes/${v.id}`}>{v.name}</Link>
                </Td>
                <Td dataLabel="Kind">
                  {v.kind === 'directory' ? 'Directory' : 'Gluster'}
                  {v.kind === 'gluster' && (v.replica_count > 1 || v.disperse_count > 0)
                    ? v.disperse_count > 0
                      ? ` (disperse ${v.disperse_count})`
                      : ` (replica ${v.replica_count})`
                    : ''}
                </Td>
                <Td dataLabel="Status">
                  <StatusLabel status={v.status} />
                </Td>
                <Td dataLabel="Bricks / path">
                  {v.bricks.length === 0
                    ? '—'
                    : v.bricks.map((b, i) => (
                        <div key={i}>
                          <code>
                            {hostName(b.host_id)}:{b.path}
                          </code>
                        </div>
                      ))}
                </Td>
                <Td dataLabel="Used / size">
                  {v.size_bytes > 0 ? `${formatBytes(v.used_bytes)} of ${formatBytes(v.size_bytes)}` : '—'}
                </Td>
                <Td isActionCell>
                  <RowActions label={v.name} items={[gateItem(gate, 'admin', { title: 'Remove', onClick: () => setRemoving(v) })]} />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      {adding && (
        <AddVolumeModal
          clusterId={clusterId}
          hosts={hosts}
          onClose={() => setAdding(false)}
          onAdded={() => {
            setAdding(false);
            reload();
          }}
        />
      )}
      {removing && (
        <ConfirmRemoveModal
          title={`Remove volume ${removing.name}?`}
          body={<p>georep forgets the volume; its files are not touched. A volume that is the source of a session cannot be removed.</p>}
          onConfirm={() => clusterApi.removeVolume(removing.id)}
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

function AddVolumeModal({
  clusterId, hosts, onClose, onAdded,
}: {
  clusterId: string; hosts: Host[]; onClose: () => void; onAdded: (v: Volume) => void;
}) {
  const [name, setName] = useState('');
  const [hostId, setHostId] = useState(hosts[0]?.id ?? '');
  const [path, setPath] = useState('');
  const [busy, setBusy] = useState(false);
  const server = useServerErrors(['name', 'host_id', 'path']);
  const nameError = check.volumeName(name.trim()) ?? server.on('name');
  const pathError = check.absolutePath(path.trim()) ?? server.on('path');
  const canSubmit = !busy && name.trim() !== '' && hostId !== '' && path.trim() !== '' &&
    !check.volumeName(name.trim()) && !check.absolutePath(path.trim());
  const submit = async (ev?: React.FormEvent) => {
    ev?.preventDefault();
    if (!canSubmit) return;
    setBusy(true);
    server.clear();
    try {
      onAdded(await clusterApi.addDirectoryVolume(clusterId, { name: name.trim(), host_id: hostId, path: path.trim() }));
    } catch (e) {
      server.fail(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <FormModal
      variant="medium"
      title="Add directory volume"
      formId="add-volume-form"
      submitLabel="Add"
      canSubmit={canSubmit}
      busy={busy}
      onClose={onClose}
    >
      {hosts.length === 0 && (
        <Alert variant="warning" isInline title="This cluster has no host" className="pf-v5-u-mb-md">
          A directory volume is a path on one of the cluster&apos;s hosts: add a host first.
        </Alert>
      )}
      <Form id="add-volume-form" onSubmit={submit}>
        <FormGroup label="Name" isRequired fieldId="volume-name">
          <TextInput id="volume-name" isRequired value={name} isDisabled={busy} {...fieldProps('volume-name', nameError)}
            onChange={(_e, v) => { setName(v); server.touched('name'); }} />
          <FieldHelper fieldId="volume-name" error={nameError}>Letters, digits, “-” and “_”.</FieldHelper>
        </FormGroup>
        <FormGroup label="Host" isRequired fieldId="volume-host">
          <FormSelect id="volume-host" value={hostId} isDisabled={busy || hosts.length === 0}
            {...fieldProps('volume-host', server.on('host_id'), false)}
            onChange={(_e, v) => { setHostId(v); server.touched('host_id'); }}>
            {hosts.map((h) => (
              <FormSelectOption key={h.id} value={h.id} label={`${h.name} (${h.transport === 'local' ? 'this machine' : h.address})`} />
            ))}
          </FormSelect>
          <FieldHelper fieldId="volume-host" error={server.on('host_id')} />
        </FormGroup>
        <FormGroup label="Path" isRequired fieldId="volume-path">
          <TextInput id="volume-path" isRequired value={path} placeholder="/srv/data" isDisabled={busy}
            {...fieldProps('volume-path', pathError)} onChange={(_e, v) => { setPath(v); server.touched('path'); }} />
          <FieldHelper fieldId="volume-path" error={pathError}>An absolute path of an existing directory on the host.</FieldHelper>
        </FormGroup>
      </Form>
      {busy && (
        <div className="pf-v5-u-mt-md">
          <BusyNote text="Adding the volume…" />
        </div>
      )}
      {server.alert && (
        <Alert variant="danger" isInline title="The volume was not added" className="pf-v5-u-mt-md">
          {server.alert}
        </Alert>
      )}
    </FormModal>
  );
}
