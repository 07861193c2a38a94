import { PageSection, Title } from '@patternfly/react-core';

export function ClusterPage() {
  return (
    <PageSection>
      <Title headingLevel="h1">ClusterPage</Title>
    </PageSection>
  );
}
