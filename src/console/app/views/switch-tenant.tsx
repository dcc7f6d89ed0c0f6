/**
 * Switch tenant: a new session in another tenant the user is a member of (the API refuses
 * any other). By slug: the API has no query listing one's own memberships yet.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { useNavigate } from 'react-router';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { useSession } from '../session.js';

export function SwitchTenant() {
  const { signedIn, switchTenant } = useSession();
  const navigate = useNavigate();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    try {
      await switchTenant(String(new FormData(event.currentTarget).get('tenant')).trim());
      navigate('/datasets');
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
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
    </section>
  );
}
