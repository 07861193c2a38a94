// A cluster: its hosts, its volumes and its geo-replication destinations, one tab each, the tab
// in the URL (/clusters/:id/hosts, /volumes, /destinations) so every tab can be linked to.
import { Link, Navigate, useNavigate, useParams } from 'react-router-dom';
import {
  Breadcrumb, BreadcrumbItem, PageSection, Spinner, Tab, TabTitleText, Tabs, Title,
} from '@patternfly/react-core';
import { api } from '../api';
import { useLiveEvents, usePollWhileOffline } from '../live';
import { ErrorAlert, useAsync } from '../util';
import { HostsTab } from '../components/cluster/HostsTab';
import { VolumesTab } from '../components/cluster/VolumesTab';
import { DestinationsTab } from '../components/cluster/DestinationsTab';

const TABS = ['hosts', 'volumes', 'destinations'] as const;
const PANEL = 'cluster-tab-panel';
type TabKey = (typeof TABS)[number];

export function ClusterPage() {
  const params = useParams();
  const clusterId = params.clusterId ?? '';
  const sub = (params['*'] ?? '').split('/')[0];
  const navigate = useNavigate();
  const cluster = useAsync(() => api.cluster(clusterId), [clusterId]);
  const hosts = useAsync((s) => api.hosts(clusterId, s), [clusterId]);

  useLiveEvents(['audit'], (type, ev) => {
    if (type === 'resync') {
      hosts.reload();
      return;
    }
    const e = ev as { object_type?: string; action?: string } | null;
    if (e?.object_type === 'host' || e?.action === 'cluster.import') hosts.reload();
  });
  usePollWhileOffline(hosts.reload, 10000);

  if (sub === "") return <Navigate to={`/clusters/${clusterId}/hosts`} replace />;
  const active: TabKey = (TABS as readonly string[]).includes(sub) ? (sub as TabKey) : 'hosts';

  return (
    <>
      <PageSection variant="light">
        <Breadcrumb className="pf-v5-u-mb-md">
          <BreadcrumbItem>
            <Link to="/clusters">Clusters</Link>
          </BreadcrumbItem>
          <BreadcrumbItem isActive>{cluster.data?.name ?? '…'}</BreadcrumbItem>
        </Breadcrumb>
        <Title headingLevel="h1">{cluster.data ? `Cluster ${cluster.data.name}` : 'Cluster'}</Title>
        {cluster.data?.description && <p className="pf-v5-u-color-200">{cluster.data.description}</p>}
        <ErrorAlert error={cluster.error} title="The cluster could not be loaded" />
      </PageSection>
      <PageSection type="tabs" variant="light">
        <Tabs
          activeKey={active}
          onSelect={(_e, key) => navigate(`/clusters/${clusterId}/${key}`)}
          aria-label="Cluster sections"
          usePageInsets
        >
          {/* The routed content below is every tab's panel (aria-controls must name an element that exists). */}
          <Tab eventKey="hosts" id="cluster-hosts" tabContentId={PANEL} title={<TabTitleText>Hosts</TabTitleText>} />
          <Tab eventKey="volumes" id="cluster-volumes" tabContentId={PANEL} title={<TabTitleText>Volumes</TabTitleText>} />
          <Tab eventKey="destinations" id="cluster-destinations" tabContentId={PANEL} title={<TabTitleText>Geo-Replication Destinations</TabTitleText>} />
        </Tabs>
      </PageSection>
      <PageSection id={PANEL} role="tabpanel" aria-labelledby={`pf-tab-${active}-cluster-${active}`}>
        <ErrorAlert error={hosts.error} title="The hosts could not be loaded" />
        {!hosts.data && hosts.loading ? (
          <Spinner aria-label="Loading the cluster" />
        ) : active === 'hosts' ? (
          <HostsTab clusterId={clusterId} hosts={hosts.data ?? []} reloadHosts={hosts.reload} setHosts={hosts.setData} />
        ) : active === 'volumes' ? (
          <VolumesTab clusterId={clusterId} hosts={hosts.data ?? []} />
        ) : (
          <DestinationsTab clusterId={clusterId} hosts={hosts.data ?? []} />
        )}
      </PageSection>
    </>
  );
}
