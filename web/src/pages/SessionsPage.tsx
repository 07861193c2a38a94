// Sessions: every geo-replication session of every volume in one table -- sortable, filtered by
// text and status (/sessions?status=Faulty is "the Faulty sessions"), with bulk start / stop /
// pause / resume of the selected rows.
import { PageSection, Title } from '@patternfly/react-core';
import { SessionsTable } from '../components/SessionsTable';

export function SessionsPage() {
  return (
    <>
      <PageSection variant="light">
        <Title headingLevel="h1">Sessions</Title>
        <p className="pf-v5-u-color-200">
          Every geo-replication session, worst status first. Select sessions to start, stop, pause or resume them together.
        </p>
      </PageSection>
      <PageSection>
        <SessionsTable />
      </PageSection>
    </>
  );
}
