/**
 * The signed-in frame: a top bar with the tenant and user (switch tenant, sign out), a side
 * navigation of the views in four groups (folded behind a Menu button on a narrow screen), and
 * the view beside it.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Container from 'react-bootstrap/Container';
import Nav from 'react-bootstrap/Nav';
import Navbar from 'react-bootstrap/Navbar';
import NavDropdown from 'react-bootstrap/NavDropdown';
import Spinner from 'react-bootstrap/Spinner';
import { Navigate, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { ErrorAlert, useFailure } from './error-alert.js';
import { graphiqlPath } from './server-facts.js';
import { formatWhen } from './format.js';
import { mayOpen } from './may.js';
import { signedInName, useSession } from './session.js';

const GRAPHIQL = graphiqlPath();

export function Shell() {
  const { signedIn, signOut, endedBecause, permissions, may } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const [failure, fail, dismiss] = useFailure();
  const [expanded, setExpanded] = useState(false);
  const menuButton = useRef<HTMLButtonElement>(null);
  // An open menu closes with Escape and gives the focus back to its button (the disclosure pattern).
  useEffect(() => {
    if (!expanded) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      setExpanded(false);
      menuButton.current?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [expanded]);
  // A refused external token returns to the token's sign-in view, which says why.
  if (!signedIn) return <Navigate to={endedBecause?.kind === 'external' ? '/sign-in/token' : '/sign-in'} replace state={{ from: location.pathname }} />;

  const onSignOut = async () => {
    try {
      await signOut();
      navigate('/sign-in');
    } catch (error) {
      fail(error);
    }
  };

  const close = () => setExpanded(false);
  // Only the views the caller may use; none until the server has said which.
  const shownGroups = GROUPS.map((group) => ({ ...group, links: permissions ? group.links.filter(([to]) => mayOpen(may, to)) : [] })).filter((group) => group.links.length > 0);

  return (
    <>
      <Navbar bg="dark" data-bs-theme="dark" className="console-bar">
        <Container fluid className="flex-nowrap">
          <Navbar.Brand as={NavLink} to="/datasets">
            Sluice
          </Navbar.Brand>
          {/* Below the md breakpoint the side navigation folds behind this button. */}
          <Button ref={menuButton} variant="outline-light" size="sm" className="d-md-none me-auto" aria-controls="main-nav" aria-expanded={expanded} onClick={() => setExpanded(!expanded)}>
            Menu
          </Button>
          <Nav className="ms-auto account-nav">
            <NavDropdown title={`${signedIn.tenant.name} · ${signedInName(signedIn)}`} id="account-menu" align="end" className="account-menu">
              <NavDropdown.ItemText className="small text-body-secondary">
                Tenant <strong>{signedIn.tenant.slug}</strong>, role {signedIn.role}
              </NavDropdown.ItemText>
              {signedIn.kind === 'external' ? (
                <NavDropdown.ItemText className="small text-body-secondary" id="external-identity">
                  External identity <strong>{signedIn.identity.subject}</strong> from {signedIn.identity.issuer}
                  {signedIn.expiresAt ? `, token valid until ${formatWhen(new Date(signedIn.expiresAt).toISOString())}` : ''}
                </NavDropdown.ItemText>
              ) : null}
              <NavDropdown.Divider />
              <NavDropdown.Item as={NavLink} to="/switch-tenant">
                Switch tenant
              </NavDropdown.Item>
              <NavDropdown.Item as={NavLink} to="/account">
                Your account
              </NavDropdown.Item>
              <NavDropdown.Item as="button" onClick={onSignOut}>
                Sign out
              </NavDropdown.Item>
            </NavDropdown>
          </Nav>
        </Container>
      </Navbar>
      <div className="console-layout">
        <nav id="main-nav" aria-label="Main" className={expanded ? 'side-nav open' : 'side-nav'}>
          {shownGroups.map((group) => (
            <NavGroup key={group.title} title={group.title}>
              {group.links.map(([to, label]) => (
                <Nav.Item as="li" key={to}>
                  <Nav.Link as={NavLink} to={to} onClick={close}>
                    {label}
                  </Nav.Link>
                </Nav.Item>
              ))}
            </NavGroup>
          ))}
          {/* Only where the server serves GraphiQL (not in production by default): no dead link. */}
          {GRAPHIQL ? (
            <NavGroup title="Tools">
              <Nav.Item as="li">
                <Nav.Link href={GRAPHIQL}>GraphiQL</Nav.Link>
              </Nav.Item>
            </NavGroup>
          ) : null}
        </nav>
        <Container as="main" fluid className="py-3 console-main" id="content">
          <ErrorAlert error={failure} onDismiss={dismiss} title="Signing out did not work" />
          <AllowedView />
        </Container>
      </div>
    </>
  );
}

/**
 * The view of the address, once the caller's permissions are known (so it asks nothing the API
 * would refuse), or why not: still reading them, reading them failed, or not the caller's to use.
 */
function AllowedView() {
  const { permissions, permissionsFailure, retryPermissions, may } = useSession();
  const { pathname } = useLocation();
  if (!permissions) {
    if (permissionsFailure === undefined) {
      return (
        <Spinner animation="border" role="status" size="sm">
          <span className="visually-hidden">Loading what you may do here</span>
        </Spinner>
      );
    }
    return (
      <>
        <ErrorAlert error={permissionsFailure} onDismiss={retryPermissions} title="Could not read what you may do in this tenant" />
        <Button onClick={retryPermissions}>Try again</Button>
      </>
    );
  }
  if (!mayOpen(may, pathname)) {
    return (
      <Card body className="empty-state" id="view-not-allowed">
        <strong>Not for your role.</strong> This page is for those who manage the tenant; ask one of its admins or owners.
      </Card>
    );
  }
  return <Outlet />;
}

/**
 * The views, grouped the way people look for them; twelve links in one bar wrapped on a
 * desktop and crowded a phone (issue 21), so they stand in a side column instead.
 */
const GROUPS: { title: string; links: [to: string, label: string][] }[] = [
  { title: 'Data', links: [['/datasets', 'Datasets']] },
  {
    title: 'Serve',
    links: [
      ['/models', 'Models'],
      ['/endpoints', 'Endpoints'],
      ['/catalog', 'Catalog'],
      ['/playground', 'Playground'],
    ],
  },
  {
    title: 'Govern',
    links: [
      ['/policies', 'Policies'],
      ['/api-keys', 'API keys'],
      ['/members', 'Members'],
      ['/identity-providers', 'Identity providers'],
      ['/tenant-settings', 'Settings'],
    ],
  },
  {
    title: 'Observe',
    links: [
      ['/usage', 'Usage'],
      ['/audit', 'Audit'],
    ],
  },
];

/** One group of links under its heading; a list labelled by the heading, so a screen reader names it. */
function NavGroup({ title, children }: { title: string; children: ReactNode }) {
  const id = `nav-group-${title.toLowerCase()}`;
  return (
    <div className="side-nav-group">
      <h2 className="side-nav-title" id={id}>
        {title}
      </h2>
      <Nav as="ul" className="flex-column" aria-labelledby={id}>
        {children}
      </Nav>
    </div>
  );
}
