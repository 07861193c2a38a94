// The console's frame: login gate, masthead, navigation, routes.
import { useContext, useEffect, useState } from 'react';
import { Navigate, NavLink, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import {
  Button, Label, Masthead, MastheadBrand, MastheadContent, MastheadMain, MastheadToggle, Nav, NavGroup, NavItem, NavList,
  Page, PageContext, PageSidebar, PageSidebarBody, PageToggleButton, SkipToContent, Toolbar, ToolbarContent, ToolbarGroup,
  ToolbarItem,
} from '@patternfly/react-core';
import BarsIcon from '@patternfly/react-icons/dist/esm/icons/bars-icon';
import { ThemeToggle } from './theme';
import { api, currentUser, setUnauthenticatedHandler, token } from './api';
import { startLive, stopLive, useLiveEvents, useLiveState } from './live';
import { forgetRole, loadRole, useRole } from './role';
import { LoginPage } from './pages/LoginPage';
import { OverviewPage } from './pages/OverviewPage';
import { SessionsPage } from './pages/SessionsPage';
import { UsersPage } from './pages/UsersPage';
import { TokensPage } from './pages/TokensPage';
import { NotificationsPage } from './pages/NotificationsPage';
import { ClustersPage } from './pages/ClustersPage';
import { ClusterPage } from './pages/ClusterPage';
import { VolumesPage } from './pages/VolumesPage';
import { VolumePage } from './pages/VolumePage';
import { SessionPage } from './pages/SessionPage';
import { EventsPage } from './pages/EventsPage';
import { AlertBadge, AlertDrawer, useFiringAlerts } from './components/AlertDrawer';

function LiveIndicator() {
  const s = useLiveState();
  const text = s === 'live' ? 'Live' : s === 'connecting' ? 'Connecting…' : 'Offline, retrying';
  return (
    <Label color={s === 'live' ? 'green' : s === 'connecting' ? 'blue' : 'orange'} aria-label={`Live updates: ${text}`}>
      {text}
    </Label>
  );
}

// Who is logged in, and their role ("bob (viewer)"). The role is read again when the live
// stream reconnects and when a user's role changes, so the console follows a change.
function UserBadge() {
  const { role } = useRole();
  useLiveEvents(['audit'], (type, ev) => {
    const e = ev as { object_type?: string; action?: string } | null;
    if (type === 'resync' || (e?.object_type === 'user' && e.action === 'user.role')) void loadRole({ again: true });
  });
  const name = currentUser() ?? '';
  return <span className="georep-user">{role ? `${name} (${role})` : name}</span>;
}

// A link of the sidebar. Where the sidebar covers the page (below 1200 px), following a link
// closes it, as a click on the page does.
function SideNavItem({ to, text, active }: { to: string; text: string; active: boolean }) {
  const page = useContext(PageContext);
  return (
    <NavItem itemId={to} isActive={active} onClick={() => {
      if (page.isSidebarOpen && (page.width ?? window.innerWidth) < 1200) page.onSidebarToggle();
    }}>
      <NavLink to={to}>{text}</NavLink>
    </NavItem>
  );
}

export function App() {
  const [loggedIn, setLoggedIn] = useState<boolean>(!!token());
  const [drawerOpen, setDrawerOpen] = useState(false);
  const firing = useFiringAlerts(loggedIn);
  const gate = useRole();
  const navigate = useNavigate();
  const location = useLocation();

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      stopLive();
      forgetRole();
      setLoggedIn(false);
    });
  }, []);
  useEffect(() => {
    if (!loggedIn) return;
    startLive();
    void loadRole();
  }, [loggedIn]);

  if (!loggedIn) {
    return (
      <LoginPage
        onLoggedIn={() => {
          setLoggedIn(true);
          const from = (location.state as { from?: string } | null)?.from;
          navigate(from && from !== '/login' ? from : '/overview', { replace: true });
        }}
      />
    );
  }

  const logout = async () => {
    stopLive();
    await api.logout();
    forgetRole();
    setLoggedIn(false);
    navigate('/login');
  };

  const masthead = (
    <Masthead>
      {/* Opens and closes the navigation; below 1200 px wide the sidebar starts closed. */}
      <MastheadToggle>
        <PageToggleButton variant="plain" aria-label="Navigation">
          <BarsIcon />
        </PageToggleButton>
      </MastheadToggle>
      <MastheadMain>
        <MastheadBrand component="a" href="/overview" aria-label="georep home">
          <span className="georep-brand">georep</span>
        </MastheadBrand>
      </MastheadMain>
      <MastheadContent>
        <Toolbar isFullHeight isStatic>
          <ToolbarContent>
            <ToolbarGroup align={{ default: 'alignRight' }}>
              <ToolbarItem>
                <AlertBadge alerts={firing.alerts} expanded={drawerOpen} onToggle={() => setDrawerOpen((o) => !o)} />
              </ToolbarItem>
              <ToolbarItem>
                <LiveIndicator />
              </ToolbarItem>
              <ToolbarItem>
                <ThemeToggle />
              </ToolbarItem>
              <ToolbarItem>
                <UserBadge />
              </ToolbarItem>
              <ToolbarItem>
                <Button variant="secondary" onClick={logout}>
                  Log out
                </Button>
              </ToolbarItem>
            </ToolbarGroup>
          </ToolbarContent>
        </Toolbar>
      </MastheadContent>
    </Masthead>
  );

  const navItem = (to: string, text: string) => <SideNavItem to={to} text={text} active={location.pathname.startsWith(to)} />;
  const sidebar = (
    <PageSidebar>
      <PageSidebarBody>
        <Nav aria-label="Main">
          <NavList>
            {navItem('/overview', 'Overview')}
            {navItem('/sessions', 'Sessions')}
            {navItem('/clusters', 'Clusters')}
            {navItem('/volumes', 'Volumes')}
            {navItem('/events', 'Events')}
          </NavList>
          <NavGroup title="Administration">
            {/* Only administrators manage users and notifiers; everyone manages their own tokens. */}
            {gate.role === 'admin' && navItem('/users', 'Users')}
            {gate.role === 'admin' && navItem('/notifications', 'Notifications')}
            {navItem('/tokens', 'API tokens')}
          </NavGroup>
        </Nav>
      </PageSidebarBody>
    </PageSidebar>
  );

  return (
    <Page
      header={masthead}
      sidebar={sidebar}
      notificationDrawer={
        <AlertDrawer alerts={firing.alerts} error={firing.error} reload={firing.reload} onClose={() => setDrawerOpen(false)} />
      }
      isNotificationDrawerExpanded={drawerOpen}
      isManagedSidebar
      skipToContent={<SkipToContent href="#main">Skip to content</SkipToContent>}
      mainContainerId="main"
    >
      <Routes>
        <Route path="/" element={<Navigate to="/overview" replace />} />
        <Route path="/login" element={<Navigate to="/overview" replace />} />
        <Route path="/overview" element={<OverviewPage firing={firing} onShowAlerts={() => setDrawerOpen(true)} />} />
        <Route path="/sessions" element={<SessionsPage />} />
        <Route path="/clusters" element={<ClustersPage />} />
        <Route path="/clusters/:clusterId/*" element={<ClusterPage />} />
        <Route path="/volumes" element={<VolumesPage />} />
        <Route path="/volumes/:volumeId/*" element={<VolumePage />} />
        <Route path="/sessions/:sessionId" element={<SessionPage />} />
        <Route path="/events" element={<EventsPage />} />
        <Route path="/users" element={<UsersPage />} />
        <Route path="/tokens" element={<TokensPage />} />
        <Route path="/notifications" element={<NotificationsPage />} />
        <Route path="*" element={<Navigate to="/overview" replace />} />
      </Routes>
    </Page>
  );
}
