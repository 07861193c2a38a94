// Add notifier: a webhook (a URL; the engine makes its signing secret and answers it once, shown
// here with a copy button) or e-mail over SMTP (server, from, to, optional user and password).
// The fields are checked as the user types, by the engine's rules (src/engine/notifications.cc);
// the engine's refusal goes on the field it names, else in the dialog's alert.
import { useState } from 'react';
import {
  Alert, Checkbox, Form, FormGroup, FormSelect, FormSelectOption,
  TextInput,
} from '@patternfly/react-core';
import { api, type Notifier, type NotifierSpec } from '../../api';
import { BusyNote, FormModal, SecretOnceModal } from '../common';
import { check, FieldHelper, fieldProps, useServerErrors } from '../forms';

type Kind = NotifierSpec['kind'] & string;
type Severity = NotifierSpec['min_severity'] & string;

// The request's fields each kind's form shows: the engine's refusal of one goes on it; of any
// other (kind, min_severity, send_resolved), in the dialog's alert.
const FIELDS = {
  webhook: ['name', 'url'],
  email: ['name', 'url', 'mail_from', 'mail_to', 'smtp_user', 'secret'],
} as const;

// The engine's plausibility rules, as it applies them.
const printable = (v: string) => [...v].every((c) => c.charCodeAt(0) > 0x20 && c.charCodeAt(0) !== 0x7f);
export const notifierCheck = {
  webhookUrl(v: string): string | null {
    if (!v) return null;
    if (!printable(v) || !/^https?:\/\//.test(v) || v.length < 10) return 'http://HOST[:PORT]/PATH or https://…, without spaces.';
    return null;
  },
  smtpUrl(v: string): string | null {
    if (!v) return null;
    if (!printable(v) || !/^smtps?:\/\//.test(v) || v.length < 9) return 'smtp://HOST[:PORT] (STARTTLS) or smtps://HOST[:PORT].';
    return null;
  },
  address(v: string): string | null {
    if (!v) return null;
    const at = v.indexOf('@');
    if (at <= 0 || at + 1 >= v.length || /[\s<>,;"]/.test(v)) return `“${v}” is not an e-mail address.`;
    return null;
  },
  addresses(v: string): string | null {
    const list = v.split(',').map((a) => a.trim()).filter(Boolean);
    if (v.trim() && list.length === 0) return 'At least one address.';
    for (const a of list) {
      const bad = notifierCheck.address(a);
      if (bad) return bad;
    }
    return null;
  },
};

export function AddNotifierModal({ onClose, onAdded }: { onClose: () => void; onAdded: () => void }) {
  const [kind, setKind] = useState<Kind>('webhook');
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [severity, setSeverity] = useState<Severity>('warning');
  const [resolved, setResolved] = useState(true);
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<Notifier | null>(null);
  const server = useServerErrors(FIELDS[kind]);
  const email = kind === 'email';

  const nameError = check.objectName(name.trim()) ?? server.on('name');
  const urlError = (email ? notifierCheck.smtpUrl(url.trim()) : notifierCheck.webhookUrl(url.trim())) ?? server.on('url');
  const fromError = email ? notifierCheck.address(from.trim()) ?? server.on('mail_from') : null;
  const toError = email ? notifierCheck.addresses(to) ?? server.on('mail_to') : null;
  const userError = server.on('smtp_user');
  const passwordError = server.on('secret');
  const complete = name.trim() !== '' && url.trim() !== '' && (!email || (from.trim() !== '' && to.trim() !== ''));
  const clientOk = !check.objectName(name.trim()) && !(email ? notifierCheck.smtpUrl(url.trim()) : notifierCheck.webhookUrl(url.trim())) &&
    (!email || (!notifierCheck.address(from.trim()) && !notifierCheck.addresses(to)));
  const canSubmit = !busy && complete && clientOk;

  const submit = async () => {
    setBusy(true);
    server.clear();
    const spec: NotifierSpec = { name: name.trim(), kind, url: url.trim(), min_severity: severity, send_resolved: resolved };
    if (email) {
      spec.mail_from = from.trim();
      spec.mail_to = to.trim();
      if (user.trim()) spec.smtp_user = user.trim();
      // The engine keeps an e-mail notifier's SMTP password as its secret.
      if (password) spec.secret = password;
    }
    try {
      const n = await api.createNotifier(spec);
      onAdded();
      if (n.secret) setAdded(n);
      else onClose();
    } catch (e) {
      server.fail(e);
    } finally {
      setBusy(false);
    }
  };

  if (added) return <WebhookSecretModal notifier={added} onClose={onClose} />;

  const text = (id: string, field: string, value: string, set: (v: string) => void) => ({
    id, value, isDisabled: busy,
    onChange: (_e: unknown, v: string) => { set(v); server.touched(field); },
  });
  return (
    <FormModal title="Add notifier" formId="add-notifier-form" submitLabel="Add" canSubmit={canSubmit} busy={busy} onClose={onClose}>
      <Form id="add-notifier-form" onSubmit={(e) => { e.preventDefault(); if (canSubmit) void submit(); }}>
        <FormGroup label="Name" isRequired fieldId="notifier-name">
          <TextInput isRequired autoComplete="off" {...text('notifier-name', 'name', name, setName)} {...fieldProps('notifier-name', nameError)} />
          <FieldHelper fieldId="notifier-name" error={nameError}>What it reaches: “ops-chat”, “oncall-mail”. Letters, digits, “.”, “-” and “_”.</FieldHelper>
        </FormGroup>
        <FormGroup label="Kind" fieldId="notifier-kind">
          <FormSelect id="notifier-kind" value={kind} isDisabled={busy}
            onChange={(_e, v) => { setKind(v as Kind); server.clear(); }}>
            <FormSelectOption value="webhook" label="Webhook (a signed JSON POST)" />
            <FormSelectOption value="email" label="E-mail (SMTP)" />
          </FormSelect>
        </FormGroup>
        {email ? (
          <>
            <FormGroup label="SMTP server" isRequired fieldId="notifier-url">
              <TextInput isRequired type="url" placeholder="smtps://mail.example.org:465" {...text('notifier-url', 'url', url, setUrl)}
                {...fieldProps('notifier-url', urlError)} />
              <FieldHelper fieldId="notifier-url" error={urlError}>
                smtps://HOST[:PORT] (TLS), or smtp://HOST[:PORT], which must offer STARTTLS unless it is on this machine.
              </FieldHelper>
            </FormGroup>
            <FormGroup label="From" isRequired fieldId="notifier-from">
              <TextInput isRequired type="email" placeholder="georep@example.org" {...text('notifier-from', 'mail_from', from, setFrom)}
                {...fieldProps('notifier-from', fromError, false)} />
              <FieldHelper fieldId="notifier-from" error={fromError} />
            </FormGroup>
            <FormGroup label="To" isRequired fieldId="notifier-to">
              <TextInput isRequired placeholder="ops@example.org, oncall@example.org" {...text('notifier-to', 'mail_to', to, setTo)}
                {...fieldProps('notifier-to', toError)} />
              <FieldHelper fieldId="notifier-to" error={toError}>One address or more, separated by commas.</FieldHelper>
            </FormGroup>
            <FormGroup label="SMTP user" fieldId="notifier-user">
              <TextInput autoComplete="off" {...text('notifier-user', 'smtp_user', user, setUser)} {...fieldProps('notifier-user', userError)} />
              <FieldHelper fieldId="notifier-user" error={userError}>Empty when the server takes mail without logging in.</FieldHelper>
            </FormGroup>
            <FormGroup label="SMTP password" fieldId="notifier-password">
              <TextInput type="password" autoComplete="new-password" {...text('notifier-password', 'secret', password, setPassword)}
                {...fieldProps('notifier-password', passwordError)} />
              <FieldHelper fieldId="notifier-password" error={passwordError}>Kept by the engine; never shown again.</FieldHelper>
            </FormGroup>
          </>
        ) : (
          <FormGroup label="URL" isRequired fieldId="notifier-url">
            <TextInput isRequired type="url" placeholder="https://hooks.example.org/georep" {...text('notifier-url', 'url', url, setUrl)}
              {...fieldProps('notifier-url', urlError)} />
            <FieldHelper fieldId="notifier-url" error={urlError}>
              Where the alerts are POSTed, signed with a secret the engine makes and shows once.
            </FieldHelper>
          </FormGroup>
        )}
        <FormGroup label="Minimum severity" fieldId="notifier-severity">
          <FormSelect id="notifier-severity" value={severity} isDisabled={busy} onChange={(_e, v) => setSeverity(v as Severity)}>
            <FormSelectOption value="warning" label="Warning and critical alerts" />
            <FormSelectOption value="critical" label="Critical alerts only" />
          </FormSelect>
        </FormGroup>
        <Checkbox id="notifier-resolved" label="Also send when an alert resolves" isChecked={resolved} isDisabled={busy}
          onChange={(_e, v) => setResolved(v)} />
      </Form>
      {busy && <BusyNote text="Adding the notifier…" />}
      {server.alert && <Alert variant="danger" isInline title="The notifier was not added" className="pf-v5-u-mt-md">{server.alert}</Alert>}
    </FormModal>
  );
}

// A webhook's signing secret, shown the one time the engine answers it.
function WebhookSecretModal({ notifier, onClose }: { notifier: Notifier; onClose: () => void }) {
  return (
    <SecretOnceModal title={`Notifier ${notifier.name} added`} label="Signing secret" value={notifier.secret ?? ''}
      onClose={onClose} warning={{
        title: 'Copy the signing secret now: it will not be shown again.',
        body: (
          <>
            The receiver checks each request with it: <code>X-Georep-Signature</code> is <code>sha256=</code> and the
            HMAC-SHA256 of <code>&lt;X-Georep-Timestamp&gt;.&lt;body&gt;</code> keyed by this secret. If it is lost,
            remove the notifier and add it again.
          </>
        ),
      }} />
  );
}
