/**
 * Switch tenant: the signed-in user's tenants (name, slug, their role), the current one
 * marked; choosing another opens a session there. The API refuses a tenant the user is not a
 * member of. A slug can still be typed when the list is empty (it could not be read).
 * An external identity (an identity provider's token) has no memberships to list (the API
 * refuses it: FORBIDDEN, NOT_A_USER): the view says so and how to act in another tenant.
 */
import { useEffect, useState, type FormEvent } from 'react';
import Alert from 'react-bootstrap/Alert';
import Badge from 'react-bootstrap/Badge';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import ListGroup from 'react-bootstrap/ListGroup';
import { useNavigate } from 'react-router';
import { ConsoleMyTenantsDocument, type ConsoleMyTenantsQuery } from '../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { NOT_A_USER, useSession } from '../session.js';

type MyTenant = NonNullable<ConsoleMyTenantsQuery['viewer']['tenants']>[number];

export function SwitchTenant() {
  const { signedIn, switchTenant, call } = useSession();
  const navigate = useNavigate();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const [tenants, setTenants] = useState<MyTenant[] | undefined>();
  const external = signedIn?.kind === 'external';

  useEffect(() => {
    if (external) return;
    call((client) => client.query(ConsoleMyTenantsDocument, {}))
      .then(({ viewer }) => setTenants(viewer.tenants ?? []))
      .catch((error) => {
        setTenants([]);
        fail(error);
      });
  }, [call, fail, external]);

  const choose = async (slug: string) => {
    setBusy(true);
    try {
      await switchTenant(slug);
      navigate('/datasets');
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    void choose(String(new FormData(event.currentTarget).get('tenant')).trim());
  };

  return (
    <section aria-labelledby="switch-title" className="narrow">
      <h1 id="switch-title" className="h3">
        Switch tenant
      </h1>
      <p>
        You are in <strong>{signedIn?.tenant.name}</strong> ({signedIn?.tenant.slug}) as {signedIn?.role}.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not switch tenant" />
      {external ? (
        <Alert variant="info" id="switch-tenant-external">
          {NOT_A_USER} To act in another tenant, sign out, then sign in with a token that tenant trusts (naming its slug when several trust your provider), or with a Sluice account.
        </Alert>
      ) : null}
      {!external && tenants === undefined && <p role="status">Reading your tenants…</p>}
      {tenants && tenants.length > 0 && (
        <ListGroup as="ul" aria-label="Your tenants">
          {tenants.map((tenant) => (
            <ListGroup.Item
              as="li"
              key={tenant.tenantId}
              className="d-flex justify-content-between align-items-center gap-2"
              aria-current={tenant.current ? 'true' : undefined}
            >
              <span>
                <strong>{tenant.name}</strong> <span className="text-body-secondary">({tenant.slug})</span> as {tenant.role}
              </span>
              {tenant.current ? (
                <Badge bg="secondary">Current</Badge>
              ) : (
                <Button size="sm" disabled={busy} aria-label={`Switch to ${tenant.name}`} onClick={() => void choose(tenant.slug)}>
                  Switch
                </Button>
              )}
            </ListGroup.Item>
          ))}
        </ListGroup>
      )}
      {tenants && tenants.length === 0 && (
        <Form onSubmit={submit} noValidate>
          <Form.Group className="mb-3" controlId="switch-tenant-slug">
            <Form.Label>Tenant slug</Form.Label>
            <Form.Control name="tenant" required aria-describedby="switch-tenant-help" />
            <Form.Text id="switch-tenant-help">A tenant you are a member of (an invitation you accepted, or one you created).</Form.Text>
          </Form.Group>
          <Button type="submit" disabled={busy}>
            Switch
          </Button>
        </Form>
      )}
    </section>
  );
}
