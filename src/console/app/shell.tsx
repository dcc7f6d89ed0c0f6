/**
 * The signed-in frame: a top bar with the tenant and user (switch tenant, sign out), a side
 * navigation of the views in four groups (folded behind a Menu button on a narrow screen), and
 * the view beside it.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import Button from 'react-bootstrap/Button';
import Container from 'react-bootstrap/Container';
import Nav from 'react-bootstrap/Nav';
import Navbar from 'react-bootstrap/Navbar';
import NavDropdown from 'react-bootstrap/NavDropdown';
import { Navigate, NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { ErrorAlert, useFailure } from './error-alert.js';
import { graphiqlPath } from './server-facts.js';
import { useSession } from './session.js';

const GRAPHIQL = graphiqlPath();

export function Shell() {
  const { signedIn, signOut } = useSession();
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
  if (!signedIn) return <Navigate to="/sign-in" replace state={{ from: location.pathname }} />;

  const onSignOut = async () => {
    try {
      await signOut();
      navigate('/sign-in');
    } catch (error) {
      fail(error);
    }
  };

  const close = () => setExpanded(false);

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
            <NavDropdown title={`${signedIn.tenant.name} · ${signedIn.user.email}`} id="account-menu" align="end" className="account-menu">
              <NavDropdown.ItemText className="small text-body-secondary">
                Tenant <strong>{signedIn.tenant.slug}</strong>, role {signedIn.role}
              </NavDropdown.ItemText>
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
          {GROUPS.map((group) => (
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
          <NavGroup title="Tools">
            {/* The views the application does not have yet: the first console has them. */}
            <Nav.Item as="li">
              <Nav.Link href="/console/classic/">Ingest &amp; ask (classic)</Nav.Link>
            </Nav.Item>
            {/* Only where the server serves GraphiQL (not in production by default): no dead link. */}
            {GRAPHIQL ? (
              <Nav.Item as="li">
                <Nav.Link href={GRAPHIQL}>GraphiQL</Nav.Link>
              </Nav.Item>
            ) : null}
          </NavGroup>
        </nav>
        <Container as="main" fluid className="py-3 console-main" id="content">
          <ErrorAlert error={failure} onDismiss={dismiss} title="Signing out did not work" />
          <Outlet />
        </Container>
      </div>
    </>
  );
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
