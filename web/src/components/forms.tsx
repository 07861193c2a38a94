// Form checks shared by the console's dialogs: the rules the engine applies to names, addresses,
// ports, users and paths (src/model/validation.cc), checked as the user types; a problem is
// shown on its field (FormHelperText, validated="error"), not only at the bottom of the dialog.
// When the engine refuses a request and names the JSON field it refused ({"error": {"code",
// "message", "field"}}), its message goes on that field of the open form too; an answer that
// names no field (or a field the form does not show) stays in the dialog's alert.
import { useCallback, useState } from 'react';
import { FormHelperText, HelperText, HelperTextItem } from '@patternfly/react-core';
import { ApiError } from '../api';
import { errorText } from '../util';

const alnum = /^[A-Za-z0-9]$/;

// Each check answers null (fine) or what is wrong, in a few words. An empty value is left to
// the form (a required field keeps its submit button disabled).
export const check = {
  // Clusters, users, notifiers: ValidateObjectName.
  objectName(v: string): string | null {
    if (!v) return null;
    if (v.length > 64) return 'At most 64 characters.';
    if (!alnum.test(v[0])) return 'Must start with a letter or digit.';
    if (!/^[A-Za-z0-9._-]+$/.test(v)) return 'Only letters, digits, “.”, “-” and “_”.';
    return null;
  },
  // Volumes: ValidateVolumeName (gluster's rules, which directory volumes follow too).
  volumeName(v: string): string | null {
    if (!v) return null;
    if (v.length > 64) return 'At most 64 characters.';
    if (v.startsWith('-')) return 'Must not start with “-”.';
    if (!/^[A-Za-z0-9_-]+$/.test(v)) return 'Only letters, digits, “-” and “_”.';
    return null;
  },
  // Host names and addresses: an IP address or an RFC 1123 name (ValidateHostName).
  hostName(v: string): string | null {
    if (!v) return null;
    if (v.length > 253) return 'At most 253 characters.';
    if (/^\d{1,3}(\.\d{1,3}){3}$/.test(v) && v.split('.').every((o) => Number(o) <= 255)) return null;
    if (v.includes(':') && /^[0-9A-Fa-f:.]+$/.test(v)) return null; // an IPv6 address
    for (const label of v.split('.')) {
      if (!label) return 'An empty label (two dots, or a dot at an end).';
      if (label.length > 63) return 'A label longer than 63 characters.';
      if (label.startsWith('-') || label.endsWith('-')) return 'A label must not start or end with “-”.';
      if (!/^[A-Za-z0-9-]+$/.test(label)) return 'Only letters, digits, “-” and “.” (a host name or an IP address).';
    }
    return null;
  },
  // A TCP port, as typed.
  port(v: string): string | null {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 1 || n > 65535) return 'A port from 1 to 65535.';
    return null;
  },
  // A Unix user name (ValidateUnixUser).
  unixUser(v: string): string | null {
    if (!v) return null;
    if (v.length > 32) return 'At most 32 characters.';
    if (!/^[a-z_]/.test(v)) return 'Must start with a lower-case letter or “_”.';
    if (!/^[a-z0-9_-]+$/.test(v)) return 'Only lower-case letters, digits, “-” and “_”.';
    return null;
  },
  // An absolute, normalised path (ValidateAbsolutePath).
  absolutePath(v: string): string | null {
    if (!v) return null;
    if (!v.startsWith('/')) return 'An absolute path (starting with /).';
    if (v === '/') return 'Not the root directory.';
    if (v.endsWith('/')) return 'Without a “/” at the end.';
    if (v.includes('//')) return 'Without “//”.';
    if (v.split('/').some((c) => c === '.' || c === '..')) return 'Without “.” or “..” components.';
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(v)) return 'Without control characters.';
    return null;
  },
};

// The engine's refusal of a form's request: on the field it names, or for the dialog's alert.
export function useServerErrors(fields: readonly string[]) {
  const [err, setErr] = useState<{ field?: string; message: string } | null>(null);
  const fail = useCallback(
    (e: unknown) => {
      const field = e instanceof ApiError && e.field && fields.includes(e.field) ? e.field : undefined;
      setErr({ field, message: errorText(e) });
    },
    // The fields a form shows are fixed per render of the form.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [fields.join(',')],
  );
  return {
    // The engine's message for `field`, when it named that field.
    on: (field: string) => (err?.field === field ? err.message : null),
    // The engine's message when it named no field of this form: for the dialog's alert.
    alert: err && !err.field ? err.message : null,
    fail,
    clear: () => setErr(null),
    // A field the user changes no longer carries the engine's old answer.
    touched: (field: string) => setErr((cur) => (cur?.field === field ? null : cur)),
  };
}

// The helper line under a field: its problem (red, with an icon), else its hint. Give the input
// aria-describedby={helperId(fieldId)} so that screen readers read it with the field.
export const helperId = (fieldId: string) => `${fieldId}-helper`;

export function FieldHelper({ fieldId, error, children }: { fieldId: string; error?: string | null; children?: React.ReactNode }) {
  if (!error && !children) return null;
  return (
    <FormHelperText>
      <HelperText id={helperId(fieldId)} aria-live="polite">
        <HelperTextItem variant={error ? 'error' : 'default'} hasIcon={!!error}>
          {error ?? children}
        </HelperTextItem>
      </HelperText>
    </FormHelperText>
  );
}

// What a field's TextInput takes from its checks: validated and the helper's id.
export function fieldProps(fieldId: string, error: string | null | undefined, hasHelper = true) {
  return {
    validated: error ? ('error' as const) : ('default' as const),
    ...(error || hasHelper ? { 'aria-describedby': helperId(fieldId) } : {}),
    ...(error ? { 'aria-invalid': true } : {}),
  };
}
