// The alerts' thresholds (engine settings: alert-lag-threshold, alert-checkpoint-timeout,
// alert-disk-usage): each with its value, default and who changed it; an administrator changes
// one (checked against its range, the engine's refusal on the field) or puts it back to its default.
import { useState } from 'react';
import {
  Alert, Form, FormGroup, InputGroup, InputGroupItem, InputGroupText, Label, Spinner, TextInput,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { api, type Setting } from '../../api';
import { useLiveEvents } from '../../live';
import { ErrorAlert, Time, useAsync } from '../../util';
import { ConfirmRemoveModal, FormModal, RowActions } from '../common';
import { FieldHelper, fieldProps, useServerErrors } from '../forms';

// The unit of a setting, from its name: the disk usage is a percentage, the others seconds.
const unit = (key: string) => (key === 'alert-disk-usage' ? '%' : 's');
const withUnit = (key: string, n: number) => (n === 0 ? '0 (off)' : `${n} ${unit(key)}`);

export function AlertSettings() {
  const { data, error, loading, reload } = useAsync((s) => api.settings(s), []);
  const [changing, setChanging] = useState<Setting | null>(null);
  const [resetting, setResetting] = useState<Setting | null>(null);
  useLiveEvents(['audit'], (type, ev) => {
    if (type === 'resync' || (ev as { object_type?: string } | null)?.object_type === 'setting') reload();
  });
  const done = () => {
    setChanging(null);
    setResetting(null);
    reload();
  };
  const list = data ?? [];
  return (
    <>
      <ErrorAlert error={error} title="The settings could not be read" />
      {!data && loading && <Spinner aria-label="Loading settings" />}
      {list.length > 0 && (
        <Table aria-label="Alert thresholds" variant="compact">
          <Thead>
            <Tr>
              <Th>Setting</Th>
              <Th>Value</Th>
              <Th>Default</Th>
              <Th modifier="wrap">Changed</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {list.map((s) => (
              <Tr key={s.key} data-setting={s.key}>
                <Td dataLabel="Setting">
                  <code>{s.key}</code>
                  <div className="pf-v5-u-font-size-sm pf-v5-u-color-200">{s.description}</div>
                </Td>
                <Td dataLabel="Value">
                  {withUnit(s.key, s.value)} {s.is_default && <Label isCompact>default</Label>}
                </Td>
                <Td dataLabel="Default">{withUnit(s.key, s.default)}</Td>
                <Td dataLabel="Changed">
                  {s.is_default ? '\u2014' : <>{s.changed_by ?? '?'}, <Time iso={s.changed_at} /></>}
                </Td>
                <Td isActionCell>
                  <RowActions label={s.key} items={[
                    { title: 'Change', onClick: () => setChanging(s) },
                    { title: 'Reset to default', isDisabled: s.is_default, onClick: () => setResetting(s) },
                  ]} />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
      {changing && <ChangeSettingModal setting={changing} onClose={() => setChanging(null)} onDone={done} />}
      {resetting && (
        <ConfirmRemoveModal
          title={`Reset ${resetting.key}?`}
          body={<p>{resetting.key} goes back to its default, {withUnit(resetting.key, resetting.default)}.</p>}
          onConfirm={() => api.resetSetting(resetting.key)}
          onClose={() => setResetting(null)}
          onDone={done}
          confirmLabel="Reset"
          busyText="Resetting…"
        />
      )}
    </>
  );
}

function ChangeSettingModal({ setting, onClose, onDone }: { setting: Setting; onClose: () => void; onDone: () => void }) {
  const [value, setValue] = useState(String(setting.value));
  const [busy, setBusy] = useState(false);
  const server = useServerErrors(['value']);
  const n = Number(value.trim());
  const bad = value.trim() === '' || !Number.isInteger(n)
    ? 'A whole number.'
    : n < setting.min || n > setting.max ? `From ${setting.min} to ${setting.max}.` : null;
  const error = (value.trim() !== '' ? bad : null) ?? server.on('value');
  const canSubmit = !busy && !bad && n !== setting.value;
  const submit = async () => {
    setBusy(true);
    server.clear();
    try {
      await api.setSetting(setting.key, n);
      onDone();
    } catch (e) {
      server.fail(e);
      setBusy(false);
    }
  };
  return (
    <FormModal variant="small" title={`Change ${setting.key}`} formId="setting-form" submitLabel="Save" canSubmit={canSubmit}
      busy={busy} onClose={onClose}>
      <Form id="setting-form" onSubmit={(e) => { e.preventDefault(); if (canSubmit) void submit(); }}>
        <FormGroup label="Value" isRequired fieldId="setting-value">
          <InputGroup>
            <InputGroupItem isFill>
              <TextInput id="setting-value" isRequired inputMode="numeric" value={value} isDisabled={busy}
                onChange={(_e, v) => { setValue(v); server.touched('value'); }} {...fieldProps('setting-value', error)} />
            </InputGroupItem>
            <InputGroupItem isPlain><InputGroupText>{unit(setting.key) === '%' ? 'percent' : 'seconds'}</InputGroupText></InputGroupItem>
          </InputGroup>
          <FieldHelper fieldId="setting-value" error={error}>
            {setting.description} Default {withUnit(setting.key, setting.default)}.
          </FieldHelper>
        </FormGroup>
      </Form>
      {server.alert && <Alert variant="danger" isInline title="The setting was not changed" className="pf-v5-u-mt-md">{server.alert}</Alert>}
    </FormModal>
  );
}
