/**
 * The signed-in frame: a navigation bar (collapsing into a menu on a narrow screen) with the
 * tenant and user, links to each view, switch tenant and sign out; the view below it.
 */
import { useState } from 'react';
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
  if (!signedIn) return <Navigate to="/sign-in" replace state={{ from: location.pathname }} />;

  const onSignOut = async () => {
    try {
      await signOut();
      navigate('/sign-in');
    } catch (error) {
      fail(error);
    }
  };

  return (
    <>
      <Navbar expand="md" bg="dark" data-bs-theme="dark" expanded={expanded} onToggle={setExpanded} collapseOnSelect>
        <Container fluid>
          <Navbar.Brand as={NavLink} to="/datasets">
            Sluice
          </Navbar.Brand>
          <Navbar.Toggle aria-controls="main-nav" label="Menu" />
          <Navbar.Collapse id="main-nav">
            <Nav as="nav" aria-label="Main" className="me-auto">
              <Nav.Link as={NavLink} to="/datasets" eventKey="datasets">
                Datasets
              </Nav.Link>
              {/* Models, endpoints, catalog, playground (issue 21). */}
              <Nav.Link as={NavLink} to="/models" eventKey="models">
                Models
              </Nav.Link>
              <Nav.Link as={NavLink} to="/endpoints" eventKey="endpoints">
                Endpoints
              </Nav.Link>
              <Nav.Link as={NavLink} to="/catalog" eventKey="catalog">
                Catalog
              </Nav.Link>
              <Nav.Link as={NavLink} to="/playground" eventKey="playground">
                Playground
              </Nav.Link>
              {/* console-usage: usage charts and the audit trail. */}
              <Nav.Link as={NavLink} to="/usage" eventKey="usage">
                Usage
              </Nav.Link>
              <Nav.Link as={NavLink} to="/audit" eventKey="audit">
                Audit
              </Nav.Link>
              {/* Governance: policies and the decision log, API keys, members, tenant settings. */}
              <Nav.Link as={NavLink} to="/policies" eventKey="policies">
                Policies
              </Nav.Link>
              <Nav.Link as={NavLink} to="/api-keys" eventKey="api-keys">
                API keys
              </Nav.Link>
              <Nav.Link as={NavLink} to="/members" eventKey="members">
                Members
              </Nav.Link>
              <Nav.Link as={NavLink} to="/tenant-settings" eventKey="tenant-settings">
                Settings
              </Nav.Link>
              {/* The views the application does not have yet: the first console has them. */}
              <Nav.Link href="/console/classic/">Ingest &amp; ask (classic)</Nav.Link>
              {/* Only where the server serves GraphiQL (not in production by default): no dead link. */}
              {GRAPHIQL ? <Nav.Link href={GRAPHIQL}>GraphiQL</Nav.Link> : null}
            </Nav>
            <Nav>
              <NavDropdown title={`${signedIn.tenant.name} · ${signedIn.user.email}`} id="account-menu" align="end" className="account-menu">
                <NavDropdown.ItemText className="small text-body-secondary">
                  Tenant <strong>{signedIn.tenant.slug}</strong>, role {signedIn.role}
                </NavDropdown.ItemText>
                <NavDropdown.Divider />
                <NavDropdown.Item as={NavLink} to="/switch-tenant">
                  Switch tenant
                </NavDropdown.Item>
                <NavDropdown.Item as="button" onClick={onSignOut}>
                  Sign out
                </NavDropdown.Item>
              </NavDropdown>
            </Nav>
          </Navbar.Collapse>
        </Container>
      </Navbar>
      <Container as="main" className="py-3" id="content">
        <ErrorAlert error={failure} onDismiss={dismiss} title="Signing out did not work" />
        <Outlet />
      </Container>
    </>
  );
}
