import { PageSection, Title } from '@patternfly/react-core';

export function VolumePage() {
  return (
    <PageSection>
      <Title headingLevel="h1">VolumePage</Title>
    </PageSection>
  );
}
