// New Geo-Replication Session: the destination host (a destination attached to the source
// volume's cluster: the engine accepts no other), then the destination volume -- for a gluster
// volume one of the destination's volumes, eligible ones first; for a directory volume a path
// on the destination host.
import { useEffect, useMemo, useState } from 'react';
import {
  Alert, Button, Checkbox, Form, FormGroup, FormHelperText, FormSelect, FormSelectOption, HelperText, HelperTextItem,
  Modal, ModalVariant, Radio, Spinner, Switch, TextInput,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { api, type CandidateVolume, type Cluster, type Destination, type Host, type Session, type Volume } from '../api';
import { ErrorAlert, errorText, formatBytes, useAsync } from '../util';
import { check, FieldHelper, fieldProps, useServerErrors } from './forms';

export function NewSessionModal({
  volume, clusterName, onClose, onCreated,
}: { volume: Volume; clusterName: string; onClose: () => void; onCreated: (s: Session) => void }) {
  const isDirectory = volume.kind === 'directory';
  const dests = useAsync((s) => api.destinations(volume.cluster_id, s), [volume.cluster_id]);
  const clusters = useAsync((s) => api.clusters(s), []);
  const [destCluster, setDestCluster] = useState('');
  const [destClusterHosts, setDestClusterHosts] = useState<Host[] | null>(null);
  const [destinationId, setDestinationId] = useState('');
  const [path, setPath] = useState('');
  const [candidates, setCandidates] = useState<CandidateVolume[] | null>(null);
  const [candidatesError, setCandidatesError] = useState<string | null>(null);
  const [candidatesLoading, setCandidatesLoading] = useState(false);
  const [showAll, setShowAll] = useState(false);
  const [chosen, setChosen] = useState('');
  const [force, setForce] = useState(false);
  // gluster's sync-method: rsync (gluster's default) or tarssh. Debian's rsync 3.4+ makes gsyncd
  // write empty files, which Test on the destination warns about; tarssh avoids it.
  const [syncMethod, setSyncMethod] = useState('');
  const [busy, setBusy] = useState(false);
  const server = useServerErrors(isDirectory ? ['destination_id', 'destination_volume'] : ['destination_id', 'destination_volume', 'sync_method']);

  // A destination cluster narrows the list to the destinations on its hosts.
  useEffect(() => {
    setDestClusterHosts(null);
    if (!destCluster) return;
    let live = true;
    api.hosts(destCluster).then((h) => live && setDestClusterHosts(h), () => live && setDestClusterHosts([]));
    return () => {
      live = false;
    };
  }, [destCluster]);

  const destinations: Destination[] = useMemo(() => {
    const all = dests.data ?? [];
    if (!destCluster || !destClusterHosts) return all;
    const names = new Set(destClusterHosts.flatMap((h) => [h.name, h.address]));
    return all.filter((d) => names.has(d.host));
  }, [dests.data, destCluster, destClusterHosts]);

  // The only destination is chosen for the user.
  useEffect(() => {
    if (destinations.length === 1 && !destinationId) setDestinationId(destinations[0].id);
    if (destinationId && !destinations.some((d) => d.id === destinationId)) setDestinationId('');
  }, [destinations, destinationId]);

  const destination = destinations.find((d) => d.id === destinationId);

  // Gluster: the destination's volumes, with eligibility for this source volume.
  useEffect(() => {
    setCandidates(null);
    setCandidatesError(null);
    setChosen('');
    if (isDirectory || !destinationId) return;
    let live = true;
    setCandidatesLoading(true);
    api.candidateVolumes(destinationId, volume.id).then(
      (c) => {
        if (!live) return;
        setCandidates(c);
        setCandidatesLoading(false);
      },
      (e) => {
        if (!live) return;
        setCandidatesError(errorText(e));
        setCandidatesLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [destinationId, isDirectory, volume.id]);

  const chosenCandidate = candidates?.find((c) => c.name === chosen);
  const needsForce = !!chosenCandidate && !chosenCandidate.eligible;
  const shownCandidates = (candidates ?? []).filter((c) => showAll || c.eligible);
  const pathClientError = isDirectory ? check.absolutePath(path.trim()) : null;
  const pathError = pathClientError ?? server.on('destination_volume');
  const target = isDirectory ? path.trim() : chosen;
  const canCreate = !!destination && target !== '' && !pathClientError && (!needsForce || force) && !busy;

  const create = async () => {
    if (!canCreate || !destination) return;
    setBusy(true);
    server.clear();
    try {
      const s = await api.createSession({
        destination_id: destination.id, source_volume_id: volume.id, destination_volume: target, force,
        ...(syncMethod ? { sync_method: syncMethod } : {}),
      });
      onCreated(s);
      onClose();
    } catch (e) {
      server.fail(e);
      setBusy(false);
    }
  };

  const destLabel = (d: Destination) =>
    `${d.host}${d.remote_user && d.remote_user !== 'root' ? ` (as ${d.remote_user})` : ''} — ${d.connection}`;

  return (
    <Modal variant={ModalVariant.medium} title="New Geo-Replication Session"
      description={`Replicate ${volume.kind} volume ${volume.name} of cluster ${clusterName} to a destination.`}
      isOpen onClose={busy ? undefined : onClose}
      actions={[
        <Button key="create" variant="primary" onClick={create} isDisabled={!canCreate} isLoading={busy}>Create</Button>,
        <Button key="cancel" variant="link" onClick={onClose} isDisabled={busy}>Cancel</Button>,
      ]}>
      <Form id="new-session-form" onSubmit={(e) => { e.preventDefault(); void create(); }}>
        <FormGroup label="Source volume" fieldId="new-session-source">
          <TextInput id="new-session-source" value={`${volume.name} (${clusterName})`} readOnlyVariant="default" />
        </FormGroup>
        <FormGroup label="Destination cluster" fieldId="new-session-dest-cluster">
          <FormSelect id="new-session-dest-cluster" value={destCluster} isDisabled={busy}
            onChange={(_e, v) => setDestCluster(v)}>
            <FormSelectOption value="" label="Any: every destination host" />
            {(clusters.data ?? []).map((c: Cluster) => (
              <FormSelectOption key={c.id} value={c.id} label={c.name} />
            ))}
          </FormSelect>
          <FormHelperText>
            <HelperText>
              <HelperTextItem>Narrows the hosts below to those of a cluster georep also manages.</HelperTextItem>
            </HelperText>
          </FormHelperText>
        </FormGroup>
        <FormGroup label="Destination host" isRequired fieldId="new-session-destination">
          {dests.loading && !dests.data ? (
            <Spinner size="md" aria-label="Loading destinations" />
          ) : (
            <FormSelect id="new-session-destination" value={destinationId} isDisabled={busy || destinations.length === 0}
              {...fieldProps('new-session-destination', server.on('destination_id'))}
              onChange={(_e, v) => { setDestinationId(v); server.touched('destination_id'); }}>
              <FormSelectOption value="" label={destinations.length ? 'Choose a destination host' : 'No destination host'} isPlaceholder />
              {destinations.map((d) => (
                <FormSelectOption key={d.id} value={d.id} label={destLabel(d)} />
              ))}
            </FormSelect>
          )}
          <FieldHelper fieldId="new-session-destination" error={server.on('destination_id')}>
            Destination hosts attached to cluster {clusterName} (the source volume&apos;s cluster); attach another on
            the cluster&apos;s Destinations tab.
          </FieldHelper>
          <ErrorAlert error={dests.error} title="Could not list the destinations" />
          {destination && destination.connection === 'Broken' && (
            <Alert variant="warning" isInline isPlain title={`${destination.host} is Broken: ${destination.connection_reason}`} />
          )}
        </FormGroup>

        {isDirectory ? (
          <FormGroup label="Destination path" isRequired fieldId="new-session-path">
            <TextInput id="new-session-path" value={path} isDisabled={busy} placeholder="/srv/replica"
              {...fieldProps('new-session-path', pathError)} onChange={(_e, v) => { setPath(v); server.touched('destination_volume'); }} />
            <FieldHelper fieldId="new-session-path" error={pathError}>
              A directory volume replicates to a path on {destination?.host ?? 'the destination host'}; it is created when the session starts.
            </FieldHelper>
          </FormGroup>
        ) : (
          <FormGroup label="Destination volume" isRequired fieldId="new-session-volume" role="group">
            <Switch id="new-session-show-all" label="Show all volumes" isChecked={showAll} isDisabled={busy}
              onChange={(_e, v) => setShowAll(v)} />
            {candidatesLoading && <div><Spinner size="md" aria-label="Loading volumes" /> Reading the destination&apos;s volumes…</div>}
            <ErrorAlert error={candidatesError} title="Could not list the destination's volumes" />
            {server.on('destination_volume') && (
              <HelperText><HelperTextItem variant="error" hasIcon>{server.on('destination_volume')}</HelperTextItem></HelperText>
            )}
            {candidates && shownCandidates.length === 0 && (
              <HelperText>
                <HelperTextItem variant="warning">
                  No eligible volume on {destination?.host}{candidates.length ? ': “Show all volumes” lists the others and why.' : '.'}
                </HelperTextItem>
              </HelperText>
            )}
            {shownCandidates.length > 0 && (
              <Table aria-label="Destination volumes" variant="compact">
                <Thead>
                  <Tr>
                    <Th screenReaderText="Select" />
                    <Th>Volume</Th>
                    <Th>Status</Th>
                    <Th>Size</Th>
                    <Th>Eligibility</Th>
                  </Tr>
                </Thead>
                <Tbody>
                  {shownCandidates.map((c, i) => (
                    <Tr key={c.name} isClickable={!busy} isRowSelected={chosen === c.name} onRowClick={() => !busy && setChosen(c.name)}>
                      <Td className="pf-v5-c-table__check">
                        <Radio id={`new-session-volume-${i}`} name="new-session-volume" aria-label={`Choose ${c.name}`}
                          isChecked={chosen === c.name} isDisabled={busy} onChange={() => setChosen(c.name)} />
                      </Td>
                      <Td dataLabel="Volume">{c.name}</Td>
                      <Td dataLabel="Status">{c.status}</Td>
                      <Td dataLabel="Size">{formatBytes(c.size_bytes)}</Td>
                      <Td dataLabel="Eligibility">{c.eligible ? 'Eligible' : c.reasons.join('; ')}</Td>
                    </Tr>
                  ))}
                </Tbody>
              </Table>
            )}
          </FormGroup>
        )}

        {!isDirectory && (
          <FormGroup label="Sync method" fieldId="new-session-sync-method">
            <FormSelect id="new-session-sync-method" value={syncMethod} isDisabled={busy}
              {...fieldProps('new-session-sync-method', server.on('sync_method'))}
              onChange={(_e, v) => { setSyncMethod(v); server.touched('sync_method'); }}>
              <FormSelectOption value="" label="gluster's default (rsync)" />
              <FormSelectOption value="rsync" label="rsync" />
              <FormSelectOption value="tarssh" label="tarssh" />
            </FormSelect>
            <FieldHelper fieldId="new-session-sync-method" error={server.on('sync_method')}>
              tarssh where the source hosts have rsync 3.4 or later (Test on the destination says so).
            </FieldHelper>
          </FormGroup>
        )}
        {/* Force bypasses the gluster eligibility checks; a directory session has none. */}
        {!isDirectory && <Checkbox id="new-session-force" label="Force" isChecked={force} isDisabled={busy}
          onChange={(_e, v) => setForce(v)}
          description={needsForce
            ? `${chosen} is not eligible (${chosenCandidate?.reasons.join('; ')}): creating the session anyway needs Force.`
            : 'Create the session even if the destination volume does not pass the eligibility checks.'} />}
        {busy && (
          <div className="georep-progress" role="status">
            <Spinner size="md" aria-label="Creating the session" />
            <span>Creating session, pushing keys…</span>
          </div>
        )}
        <ErrorAlert error={server.alert} title="Could not create the session" />
      </Form>
    </Modal>
  );
}
