import { PageSection, Title } from '@patternfly/react-core';

export function ClustersPage() {
  return (
    <PageSection>
      <Title headingLevel="h1">ClustersPage</Title>
    </PageSection>
  );
}
