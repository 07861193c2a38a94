// A volume: its facts, and tabs routed by URL -- General, and Geo-Replication Sessions (the
// default).
import { Navigate, Route, Routes, useLocation, useNavigate, useParams, Link } from 'react-router-dom';
import {
  Breadcrumb, BreadcrumbItem, DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm,
  Flex, FlexItem, Label, PageSection, Spinner, Tab, TabTitleText, Tabs, Title,
} from '@patternfly/react-core';
import { api, type Host, type Volume } from '../api';
import { ErrorAlert, StatusLabel, Time, useAsync } from '../util';
import { brickText, usageText } from '../components/volumeText';
import { SessionsTable } from '../components/SessionsTable';

function layout(v: Volume): string {
  if (v.kind === 'directory') return 'Directory';
  const parts: string[] = [];
  if (v.replica_count > 1) parts.push(`replica ${v.replica_count}`);
  if (v.disperse_count > 1) parts.push(`disperse ${v.disperse_count}`);
  return parts.length ? parts.join(', ') : 'Distribute';
}

function General({ volume, clusterName, hosts }: { volume: Volume; clusterName: string; hosts: Host[] | undefined }) {
  const bricks = brickText(volume, hosts);
  return (
    <DescriptionList isHorizontal aria-label="Volume details">
      <DescriptionListGroup>
        <DescriptionListTerm>Name</DescriptionListTerm>
        <DescriptionListDescription>{volume.name}</DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>Cluster</DescriptionListTerm>
        <DescriptionListDescription>
          <Link to={`/clusters/${encodeURIComponent(volume.cluster_id)}`}>{clusterName}</Link>
        </DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>Kind</DescriptionListTerm>
        <DescriptionListDescription>{volume.kind}</DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>Type</DescriptionListTerm>
        <DescriptionListDescription>{layout(volume)}</DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>Status</DescriptionListTerm>
        <DescriptionListDescription><StatusLabel status={volume.status} /></DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>{volume.kind === 'directory' ? 'Path' : `Bricks (${bricks.length})`}</DescriptionListTerm>
        <DescriptionListDescription>
          {bricks.map((b) => <div key={b}><code>{b}</code></div>)}
        </DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>Used</DescriptionListTerm>
        <DescriptionListDescription>{usageText(volume)}</DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>Added</DescriptionListTerm>
        <DescriptionListDescription><Time iso={volume.created_at} show="both" /></DescriptionListDescription>
      </DescriptionListGroup>
      <DescriptionListGroup>
        <DescriptionListTerm>ID</DescriptionListTerm>
        <DescriptionListDescription><code>{volume.id}</code></DescriptionListDescription>
      </DescriptionListGroup>
    </DescriptionList>
  );
}

export function VolumePage() {
  const { volumeId = '' } = useParams();
  const location = useLocation();
  const navigate = useNavigate();
  const vol = useAsync(() => api.volume(volumeId), [volumeId]);
  const clusterId = vol.data?.cluster_id;
  const cluster = useAsync(async () => (clusterId ? api.cluster(clusterId) : undefined), [clusterId]);
  const hosts = useAsync(async (s) => (clusterId ? api.hosts(clusterId, s) : undefined), [clusterId]);

  const base = `/volumes/${encodeURIComponent(volumeId)}`;
  const active = location.pathname.startsWith(`${base}/general`) ? 'general' : 'sessions';
  const v = vol.data;
  const clusterName = cluster.data?.name ?? clusterId ?? '';

  return (
    <>
      <PageSection variant="light">
        <Breadcrumb>
          <BreadcrumbItem><Link to="/volumes">Volumes</Link></BreadcrumbItem>
          <BreadcrumbItem isActive>{v?.name ?? volumeId}</BreadcrumbItem>
        </Breadcrumb>
        <ErrorAlert error={vol.error} title="Could not read the volume" />
        {!v && !vol.error && <Spinner size="lg" aria-label="Loading the volume" />}
        {v && (
          <Flex alignItems={{ default: 'alignItemsCenter' }} spaceItems={{ default: 'spaceItemsMd' }}>
            <FlexItem><Title headingLevel="h1">{v.name}</Title></FlexItem>
            <FlexItem><StatusLabel status={v.status} /></FlexItem>
            <FlexItem><Label>{v.kind}</Label></FlexItem>
            <FlexItem>Cluster {clusterName}</FlexItem>
            <FlexItem><code>{brickText(v, hosts.data).join(', ')}</code></FlexItem>
            {v.size_bytes > 0 && <FlexItem>{usageText(v)}</FlexItem>}
          </Flex>
        )}
      </PageSection>
      {v && (
        <>
          <PageSection variant="light" type="tabs">
            <Tabs activeKey={active} aria-label="Volume views" usePageInsets
              onSelect={(_e, k) => navigate(`${base}/${k}`)}>
              {/* The routed content below is every tab's panel (aria-controls must name an element that exists). */}
              <Tab eventKey="general" id="volume-general" tabContentId="volume-tab-panel" title={<TabTitleText>General</TabTitleText>} />
              <Tab eventKey="sessions" id="volume-sessions" tabContentId="volume-tab-panel" title={<TabTitleText>Geo-Replication Sessions</TabTitleText>} />
            </Tabs>
          </PageSection>
          <PageSection id="volume-tab-panel" role="tabpanel" aria-labelledby={`pf-tab-${active}-volume-${active}`}>
            <Routes>
              <Route index element={<Navigate to="sessions" replace />} />
              <Route path="general" element={<General volume={v} clusterName={clusterName} hosts={hosts.data} />} />
              <Route path="sessions" element={<SessionsTable volume={v} clusterName={clusterName} />} />
              <Route path="*" element={<Navigate to="sessions" replace />} />
            </Routes>
          </PageSection>
        </>
      )}
    </>
  );
}
