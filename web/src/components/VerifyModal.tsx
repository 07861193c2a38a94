// Verify: the engine compares the source and the destination trees (content included, fully or
// a sample of files), lists what differs and says what it did not compare. It can take long on
// a big tree. After a verify that found differences on a directory session (the engine repairs
// only those), Repair has the engine send exactly those again (and delete what only the
// destination has), then verify again; its result shows, or the engine's refusal, and Verify
// again stays at hand.
import { useEffect, useRef, useState } from 'react';
import {
  Alert, Button, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm,
  Form, FormGroup, HelperText, HelperTextItem, Modal, ModalVariant, NumberInput, Radio, Spinner, Stack, StackItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { api, type RepairReport, type Session, type VerifyReport } from '../api';
import { ErrorAlert, errorText, formatBytes, TimeText } from '../util';
import { FieldHelper } from './forms';

// `volumeKind`: the source volume's kind, when known -- Repair is offered unless it is gluster.
export function VerifyModal({ session, title, volumeKind, onClose }: {
  session: Session; title: string; volumeKind?: string; onClose: () => void;
}) {
  const [mode, setMode] = useState<'full' | 'sample'>('full');
  const [percent, setPercent] = useState<number>(10);
  const [busy, setBusy] = useState<'verify' | 'repair' | null>(null);
  const [repairError, setRepairError] = useState<string | null>(null);
  const [elapsed, setElapsed] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [report, setReport] = useState<VerifyReport | null>(null);
  const [ranWith, setRanWith] = useState<number>(100);
  const [repair, setRepair] = useState<RepairReport | null>(null);
  const mounted = useRef(true);
  useEffect(() => () => {
    mounted.current = false;
  }, []);
  useEffect(() => {
    if (!busy) return;
    const started = Date.now();
    const t = setInterval(() => setElapsed(Math.round((Date.now() - started) / 1000)), 1000);
    return () => clearInterval(t);
  }, [busy]);

  // One row per path, with everything that differs for it.
  const byPath: [string, string[]][] = [];
  for (const d of report?.differences ?? []) {
    const last = byPath.find(([p]) => p === d.path);
    if (last) last[1].push(d.difference);
    else byPath.push([d.path, [d.difference]]);
  }

  const percentValid = Number.isInteger(percent) && percent >= 1 && percent <= 100;
  const run = async () => {
    const sample = mode === 'full' ? 100 : percent;
    setBusy('verify');
    setElapsed(0);
    setError(null);
    setRepairError(null);
    setReport(null);
    setRepair(null);
    try {
      const r = await api.verifySession(session.id, sample);
      if (!mounted.current) return;
      setReport(r);
      setRanWith(sample);
    } catch (e) {
      if (mounted.current) setError(errorText(e));
    } finally {
      if (mounted.current) setBusy(null);
    }
  };

  const runRepair = async () => {
    setBusy('repair');
    setElapsed(0);
    setError(null);
    setRepairError(null);
    try {
      const r = await api.repairSession(session.id);
      if (!mounted.current) return;
      setRepair(r);
      setReport(r.after);
      setRanWith(100);
    } catch (e) {
      if (mounted.current) setRepairError(errorText(e));
    } finally {
      if (mounted.current) setBusy(null);
    }
  };
  const canRepair = volumeKind !== 'gluster';

  return (
    <Modal variant={ModalVariant.medium} title={`Verify ${title}`} description={`Session ${session.session_key}`}
      isOpen onClose={busy ? undefined : onClose}
      actions={[
        <Button key="go" variant="primary" onClick={run} isDisabled={!!busy || (mode === 'sample' && !percentValid)} isLoading={busy === 'verify'}>
          {report || error ? 'Verify again' : 'Verify'}
        </Button>,
        ...(report && !report.identical && canRepair ? [
          <Button key="repair" variant="secondary" onClick={runRepair} isDisabled={!!busy} isLoading={busy === 'repair'}>Repair</Button>,
        ] : []),
        <Button key="close" variant="link" onClick={onClose} isDisabled={!!busy}>Close</Button>,
      ]}>
      <Stack hasGutter>
        <StackItem>
          <Form onSubmit={(e) => { e.preventDefault(); if (!busy) void run(); }}>
            <FormGroup role="radiogroup" isInline fieldId="verify-mode" label="Compare">
              <Radio id="verify-full" name="verify-mode" label="Every file (full)" isChecked={mode === 'full'}
                onChange={() => setMode('full')} isDisabled={!!busy} />
              <Radio id="verify-sample" name="verify-mode" label="A sample of files" isChecked={mode === 'sample'}
                onChange={() => setMode('sample')} isDisabled={!!busy} />
            </FormGroup>
            {mode === 'sample' && (
              <FormGroup label="Sample (percent of files whose content is compared)" fieldId="verify-percent">
                <NumberInput id="verify-percent" value={percent} min={1} max={100} unit="%" isDisabled={!!busy}
                  inputAriaLabel="Sample percent" minusBtnAriaLabel="Less" plusBtnAriaLabel="More"
                  onMinus={() => setPercent((p) => Math.max(1, p - 5))} onPlus={() => setPercent((p) => Math.min(100, p + 5))}
                  onChange={(e) => setPercent(Number((e.target as HTMLInputElement).value))} />
                <FieldHelper fieldId="verify-percent" error={percentValid ? null : 'Between 1 and 100.'} />
              </FormGroup>
            )}
          </Form>
        </StackItem>
        {busy && (
          <StackItem>
            <div className="georep-progress" role="status">
              <Spinner size="lg" aria-label="Verify in progress" />
              <span>{busy === 'repair' ? 'Repairing the destination, then comparing again…' : 'Comparing source and destination…'} {elapsed} s</span>
            </div>
            <HelperText>
              <HelperTextItem>Every entry's type, size, mode and times are compared, and the content of the files sampled; on a large tree this takes a while.</HelperTextItem>
            </HelperText>
          </StackItem>
        )}
        <StackItem>
          <ErrorAlert error={error} title="Verify failed" />
          <ErrorAlert error={repairError} title="The engine did not repair the destination" />
        </StackItem>
        {repair && (
          <StackItem>
            <Alert variant={repair.identical ? 'success' : 'danger'} isInline
              title={repair.differences_found === 0 ? 'Nothing differed: nothing to repair'
                : `Repaired: ${repair.resent} sent again, ${repair.deleted} deleted; verified again: ${repair.identical ? 'identical' : `${repair.after.differences.length} differences remain`}`}>
              {repair.differences_found > 0 && `The verify before the repair found ${repair.differences_found} ${repair.differences_found === 1 ? 'difference' : 'differences'}; the report below is the verify after it.`}
            </Alert>
          </StackItem>
        )}
        {report && (
          <StackItem>
            {report.identical ? (
              <Alert variant="success" isInline title="Source and destination are identical" />
            ) : (
              <Alert variant="warning" isInline
                title={`${report.differences.length} ${report.differences.length === 1 ? 'difference' : 'differences'} found in ${byPath.length} ${byPath.length === 1 ? 'entry' : 'entries'}`} />
            )}
            <DescriptionList isHorizontal isCompact columnModifier={{ default: '2Col' }} className="georep-verify-stats">
              <DescriptionListGroup>
                <DescriptionListTerm>Entries compared</DescriptionListTerm>
                <DescriptionListDescription>{report.entries}</DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Content checked</DescriptionListTerm>
                <DescriptionListDescription>{report.content_checked} files{ranWith < 100 ? ` (${ranWith}% sample)` : ''}</DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Bytes hashed</DescriptionListTerm>
                <DescriptionListDescription>{formatBytes(report.bytes_hashed)}</DescriptionListDescription>
              </DescriptionListGroup>
            </DescriptionList>
            {!report.identical && !canRepair && !repair && (
              <HelperText>
                <HelperTextItem>Repair is for directory sessions: georep&apos;s own worker sends the differences again.</HelperTextItem>
              </HelperText>
            )}
            {report.differences.length > 0 && (
              <Table aria-label="Differences" variant="compact">
                <Thead>
                  <Tr>
                    <Th>Path</Th>
                    <Th>Difference</Th>
                  </Tr>
                </Thead>
                <Tbody>
                  {byPath.map(([p, what]) => (
                    <Tr key={p}>
                      <Td dataLabel="Path"><code>{p}</code></Td>
                      <Td dataLabel="Difference">{what.map((w, i) => <div key={i}><TimeText text={w} /></div>)}</Td>
                    </Tr>
                  ))}
                </Tbody>
              </Table>
            )}
            {(report.not_compared ?? []).length > 0 && (
              <HelperText aria-label="Not compared" className="georep-verify-not-compared">
                {(report.not_compared ?? []).map((n) => (
                  <HelperTextItem key={n}>Not compared: <TimeText text={n} /></HelperTextItem>
                ))}
              </HelperText>
            )}
          </StackItem>
        )}
      </Stack>
    </Modal>
  );
}
