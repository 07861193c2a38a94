// A list of API tokens: name, created, expires, last used. The API tokens page shows one's own
// (with Revoke, and which one is this console's); the Users page a user's, read-only.
import { Button, Label } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { ApiToken } from '../api';
import { Time } from '../util';

export function TokenTable({ tokens, label, current, onRevoke }: {
  tokens: ApiToken[]; label: string; current?: string | null; onRevoke?: (t: ApiToken) => void;
}) {
  return (
    <Table aria-label={label} variant="compact">
      <Thead>
        <Tr>
          <Th>Name</Th>
          <Th>Created</Th>
          <Th>Expires</Th>
          <Th>Last used</Th>
          {onRevoke && <Th screenReaderText="Actions" />}
        </Tr>
      </Thead>
      <Tbody>
        {tokens.map((t) => (
          <Tr key={t.id} data-token-id={t.id}>
            <Td dataLabel="Name">
              {t.name} {current && t.id === current && <Label isCompact color="blue">this console</Label>}
            </Td>
            <Td dataLabel="Created"><Time iso={t.created_at} show="both" /></Td>
            <Td dataLabel="Expires"><Time iso={t.expires_at} show="both" empty="never" /></Td>
            <Td dataLabel="Last used"><Time iso={t.last_used} empty="never" /></Td>
            {onRevoke && (
              <Td isActionCell>
                <Button variant="secondary" isDanger onClick={() => onRevoke(t)} aria-label={`Revoke ${t.name}`}>Revoke</Button>
              </Td>
            )}
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}
