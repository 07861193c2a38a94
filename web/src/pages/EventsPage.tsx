import { PageSection, Title } from '@patternfly/react-core';

export function EventsPage() {
  return (
    <PageSection>
      <Title headingLevel="h1">EventsPage</Title>
    </PageSection>
  );
}
