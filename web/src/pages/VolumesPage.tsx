import { PageSection, Title } from '@patternfly/react-core';

export function VolumesPage() {
  return (
    <PageSection>
      <Title headingLevel="h1">VolumesPage</Title>
    </PageSection>
  );
}
