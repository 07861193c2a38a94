// A session's configuration: every option the engine knows for the session's kind, its value
// and default, an inline editor per row (the engine validates; its message shows on the row),
// and Reset to the default. Changing an option needs the admin role (the checkpoint: operator);
// everyone else sees the values read-only.
import { useMemo, useState } from 'react';
import {
  Alert, Button, EmptyState, EmptyStateBody, FormSelect, FormSelectOption, HelperText, HelperTextItem, Label,
  Modal, ModalVariant, SearchInput, Spinner, Switch, TextInput, Toolbar, ToolbarContent, ToolbarItem,
} from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { api, type ConfigItem, type Session } from '../api';
import { ErrorAlert, errorText, formatTimeFull, Time, useAsync } from '../util';
import { needsText, RoleButton, useRole } from '../role';
import { CONFIG_RESET_ROLE, configRole } from './sessionModel';

interface RowState { editing: boolean; draft: string; busy: boolean; error: string | null }
const idle: RowState = { editing: false, draft: '', busy: false, error: null };

// Unix seconds as the value of a datetime-local input (local time), and back.
function secondsToLocalInput(v: string): string {
  if (!/^\d+$/.test(v) || v === '0') return '';
  const d = new Date(Number(v) * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
function localInputToSeconds(v: string): string {
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? '' : String(Math.floor(t / 1000));
}

// The checkpoint (Unix seconds to the engine): a local date and time, "now" or none.
function CheckpointEditor({ value, onChange, disabled, onSubmit }: {
  value: string; onChange: (v: string) => void; disabled: boolean; onSubmit: () => void;
}) {
  return (
    <div>
      <TextInput id="config-checkpoint" type="datetime-local" step={1} aria-label="Value of checkpoint (local time)"
        value={value === 'now' ? '' : secondsToLocalInput(value)} isDisabled={disabled}
        onChange={(_e, v) => onChange(v ? localInputToSeconds(v) : '0')}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            onSubmit();
          }
        }} />
      <Button variant="link" isInline size="sm" isDisabled={disabled} onClick={() => onChange('now')}>Now</Button>{' · '}
      <Button variant="link" isInline size="sm" isDisabled={disabled} onClick={() => onChange('0')}>None</Button>
      <div className="georep-config-desc" aria-live="polite">
        {value === 'now' ? 'The engine’s current time, when saved.' : value === '0' || value === '' ? 'No checkpoint.'
          : `${formatTimeFull(new Date(Number(value) * 1000).toISOString())} (${value})`}
      </div>
    </div>
  );
}

function Editor({ item, value, onChange, onSubmit, disabled }: {
  item: ConfigItem; value: string; onChange: (v: string) => void; onSubmit: () => void; disabled: boolean;
}) {
  const label = `Value of ${item.key}`;
  if (item.key === 'checkpoint') return <CheckpointEditor value={value} onChange={onChange} disabled={disabled} onSubmit={onSubmit} />;
  if (item.type === 'bool') {
    return (
      <Switch id={`config-${item.key}`} aria-label={label} isChecked={value === 'true'} isDisabled={disabled}
        label="true" labelOff="false" onChange={(_e, v) => onChange(v ? 'true' : 'false')} />
    );
  }
  if (item.allowed_values.length > 0) {
    return (
      <FormSelect id={`config-${item.key}`} aria-label={label} value={value} isDisabled={disabled}
        onChange={(_e, v) => onChange(v)}>
        {item.allowed_values.map((v) => (
          <FormSelectOption key={v} value={v} label={v === item.default ? `${v} (default)` : v} />
        ))}
      </FormSelect>
    );
  }
  return (
    <TextInput id={`config-${item.key}`} aria-label={label} value={value} isDisabled={disabled}
      onChange={(_e, v) => onChange(v)}
      onKeyDown={(e) => {
        if (e.key === 'Enter') {
          e.preventDefault();
          onSubmit();
        }
      }} />
  );
}

export function ConfigModal({ session, title, onClose }: { session: Session; title: string; onClose: () => void }) {
  const { data, error, setData } = useAsync(() => api.config(session.id), [session.id]);
  const [rows, setRows] = useState<Record<string, RowState>>({});
  const [filter, setFilter] = useState('');
  const gate = useRole();
  const row = (k: string) => rows[k] ?? idle;
  const patch = (k: string, p: Partial<RowState>) => setRows((r) => ({ ...r, [k]: { ...(r[k] ?? idle), ...p } }));

  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return (data ?? []).filter((i) => !f || i.key.includes(f) || i.description.toLowerCase().includes(f) || i.value.toLowerCase().includes(f));
  }, [data, filter]);

  const replace = (item: ConfigItem) => setData((d) => d?.map((x) => (x.key === item.key ? item : x)));

  const save = async (item: ConfigItem) => {
    const draft = row(item.key).draft;
    patch(item.key, { busy: true, error: null });
    try {
      const updated = await api.setConfig(session.id, item.key, draft);
      replace(updated);
      patch(item.key, { ...idle });
    } catch (e) {
      patch(item.key, { busy: false, error: errorText(e) });
    }
  };
  const reset = async (item: ConfigItem) => {
    patch(item.key, { busy: true, error: null });
    try {
      await api.resetConfig(session.id, item.key);
      replace({ ...item, value: item.default, is_default: true, changed_by: null, changed_at: null });
      patch(item.key, { ...idle });
    } catch (e) {
      patch(item.key, { busy: false, error: errorText(e) });
    }
  };

  return (
    <Modal variant={ModalVariant.large} title={`Config of ${title}`} description={`Session ${session.session_key}`}
      isOpen onClose={onClose}
      actions={[<Button key="close" variant="primary" onClick={onClose}>Close</Button>]}>
      <ErrorAlert error={error} title="Could not read the configuration" />
      {!data && !error && <Spinner size="lg" aria-label="Loading the configuration" />}
      {data && !gate.can('admin') && (
        <Alert variant="info" isInline isPlain className="pf-v5-u-mb-sm"
          title={gate.can(configRole('checkpoint'))
            ? `Read-only but for the checkpoint: changing the other options ${needsText('admin').toLowerCase()}.`
            : `Read-only: changing an option ${needsText('admin').toLowerCase()}.`} />
      )}
      {data && (
        <>
          <Toolbar>
            <ToolbarContent>
              <ToolbarItem variant="search-filter">
                <SearchInput aria-label="Filter options" placeholder="Filter options" value={filter}
                  onChange={(_e, v) => setFilter(v)} onClear={() => setFilter('')} />
              </ToolbarItem>
              <ToolbarItem variant="pagination">
                {data.filter((i) => !i.is_default).length} modified of {data.length}
              </ToolbarItem>
            </ToolbarContent>
          </Toolbar>
          {shown.length === 0 ? (
            <EmptyState variant="xs"><EmptyStateBody>No option matches “{filter}”.</EmptyStateBody></EmptyState>
          ) : (
            <Table aria-label="Session configuration" variant="compact">
              <Thead>
                <Tr>
                  <Th width={30}>Option</Th>
                  <Th width={30}>Value</Th>
                  <Th width={15}>Default</Th>
                  <Th screenReaderText="Row actions" />
                </Tr>
              </Thead>
              <Tbody>
                {shown.map((item) => {
                  const r = row(item.key);
                  return (
                    <Tr key={item.key} data-config-key={item.key}>
                      <Td dataLabel="Option">
                        <div><code>{item.key}</code></div>
                        <div className="georep-config-desc">{item.description}</div>
                      </Td>
                      <Td dataLabel="Value">
                        {r.editing ? (
                          <Editor item={item} value={r.draft} disabled={r.busy}
                            onChange={(v) => patch(item.key, { draft: v, error: null })}
                            onSubmit={() => void save(item)} />
                        ) : (
                          <span>
                            {item.key === 'checkpoint' && /^\d+$/.test(item.value) ? (
                              item.value === '0' ? <>None <code>0</code></> : (
                                <><Time iso={new Date(Number(item.value) * 1000).toISOString()} show="both" />{' '}
                                  <code className="georep-config-desc">{item.value}</code></>
                              )
                            ) : <code>{item.value === '' ? '(empty)' : item.value}</code>}{' '}
                            {!item.is_default && (
                              <Label color="blue" isCompact title={item.changed_by ? `by ${item.changed_by}, ${formatTimeFull(item.changed_at)}` : undefined}>
                                Modified
                              </Label>
                            )}
                          </span>
                        )}
                        {r.error && (
                          <HelperText>
                            <HelperTextItem variant="error" hasIcon>{r.error}</HelperTextItem>
                          </HelperText>
                        )}
                      </Td>
                      <Td dataLabel="Default"><code>{item.default === '' ? '(empty)' : item.default}</code></Td>
                      <Td isActionCell modifier="nowrap">
                        {r.editing ? (
                          <>
                            <Button variant="primary" size="sm" aria-label={`Save ${item.key}`} onClick={() => void save(item)}
                              isDisabled={r.busy} isLoading={r.busy}>Save</Button>{' '}
                            <Button variant="link" size="sm" aria-label={`Cancel editing ${item.key}`} isDisabled={r.busy}
                              onClick={() => patch(item.key, { ...idle })}>Cancel</Button>
                          </>
                        ) : (
                          <>
                            <RoleButton needed={configRole(item.key)} variant="secondary" size="sm" aria-label={`Edit ${item.key}`}
                              isDisabled={r.busy}
                              onClick={() => patch(item.key, { editing: true, draft: item.value, error: null })}>Edit</RoleButton>{' '}
                            <RoleButton needed={CONFIG_RESET_ROLE} variant="link" size="sm" aria-label={`Reset ${item.key}`}
                              onClick={() => void reset(item)}
                              isDisabled={item.is_default || r.busy} isLoading={r.busy}>Reset</RoleButton>
                          </>
                        )}
                      </Td>
                    </Tr>
                  );
                })}
              </Tbody>
            </Table>
          )}
        </>
      )}
    </Modal>
  );
}
