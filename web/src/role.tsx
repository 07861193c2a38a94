// The logged-in user's role (GET /me) and what it allows. The engine decides -- it answers 403 to
// a role that is not enough; the console only disables what the engine would refuse, and says
// which role it needs, so that users still see the action exists (as oVirt and Cockpit do).
//
// The role is read once after login, kept in sessionStorage for a reload of the tab, and read
// again when the live stream reconnects or a user's role changes.
import { useEffect, useId, useState } from 'react';
import { Button, Tooltip, type ButtonProps } from '@patternfly/react-core';
import type { IAction } from '@patternfly/react-table';
import { api, token, type Role } from './api';

export type { Role };

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const ROLE_KEY = 'georep.role';

function isRole(v: unknown): v is Role {
  return v === 'viewer' || v === 'operator' || v === 'admin';
}

function stored(): Role | null {
  const r = sessionStorage.getItem(ROLE_KEY);
  return isRole(r) ? r : null;
}

let current: Role | null = stored();
// The token the role was read with: a login gives a new one, and the role is read again.
let readWith: string | null = null;
const listeners = new Set<(r: Role | null) => void>();

function setRole(r: Role | null) {
  current = r;
  if (r) sessionStorage.setItem(ROLE_KEY, r);
  else sessionStorage.removeItem(ROLE_KEY);
  for (const l of listeners) l(r);
}

// Reads the role from GET /me, unless it was already read with the current token (`again`
// reads it anyway). A failure keeps what was known: the engine still refuses what it must.
export async function loadRole({ again = false } = {}): Promise<void> {
  const t = token();
  if (!t || (!again && readWith === t && current)) return;
  try {
    const me = await api.me();
    if (token() !== t) return;
    readWith = t;
    setRole(isRole(me.role) ? me.role : me.admin ? 'admin' : 'viewer');
  } catch {
    /* unreachable or logged out: request() handles a 401 */
  }
}

export function forgetRole() {
  readWith = null;
  setRole(null);
}

export function allows(have: Role | null, needed: Role): boolean {
  return have !== null && RANK[have] >= RANK[needed];
}

export function needsText(needed: Role): string {
  return `Needs the ${needed} role`;
}

export interface RoleGate {
  role: Role | null;
  can: (needed: Role) => boolean;
  // Why the user may not: undefined when they may.
  why: (needed: Role) => string | undefined;
}

export function useRole(): RoleGate {
  const [role, set] = useState<Role | null>(current);
  useEffect(() => {
    listeners.add(set);
    set(current);
    return () => {
      listeners.delete(set);
    };
  }, []);
  const can = (needed: Role) => allows(role, needed);
  return {
    role,
    can,
    why: (needed) => (can(needed) ? undefined : role ? needsText(needed) : 'Reading your role…'),
  };
}

// A button that may not be used, and says why: aria-disabled (still focusable, so the reason
// reaches keyboard and screen-reader users), the reason as its accessible description and as a
// tooltip. Without a reason it is a plain button.
export function ExplainedButton({ why, children, onClick, isDisabled, ...props }: ButtonProps & { why?: string }) {
  const descriptionId = useId();
  if (!why) return <Button onClick={onClick} isDisabled={isDisabled} {...props}>{children}</Button>;
  return (
    <>
      <Tooltip content={why} aria="none">
        <Button {...props} isAriaDisabled aria-describedby={descriptionId}>
          {children}
        </Button>
      </Tooltip>
      <span id={descriptionId} hidden>
        {why}
      </span>
    </>
  );
}

// A button for an action that needs a role.
export function RoleButton({ needed, ...props }: ButtonProps & { needed: Role }) {
  const gate = useRole();
  return <ExplainedButton why={gate.why(needed)} {...props} />;
}

// A row-menu item for an action that needs a role: aria-disabled, with the role it needs as its
// description and tooltip. An item the role allows is returned as it is.
export function gateItem(gate: RoleGate, needed: Role, item: IAction): IAction {
  const why = gate.why(needed);
  if (!why) return item;
  return { ...item, isDisabled: false, isAriaDisabled: true, description: why, tooltipProps: { content: why } };
}
