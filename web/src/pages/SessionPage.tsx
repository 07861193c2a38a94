import { PageSection, Title } from '@patternfly/react-core';

export function SessionPage() {
  return (
    <PageSection>
      <Title headingLevel="h1">SessionPage</Title>
    </PageSection>
  );
}
