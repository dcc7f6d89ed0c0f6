/**
 * Sign in with an external identity provider's token (a JWT the tenant's registered provider
 * issued): the console checks it with a `viewer` query, shows who it is, then uses it as the
 * bearer of every request until it is refused. A refused token is said as the API said it
 * (UNAUTHENTICATED: expired, untrusted issuer, invalid signature, …).
 */
import { useState, type FormEvent } from 'react';
import Alert from 'react-bootstrap/Alert';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { Link, useLocation, useNavigate } from 'react-router';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { formatWhen } from '../format.js';
import { useSession } from '../session.js';
import { PublicPage } from './public-page.js';

export function SignInWithToken() {
  const { signedIn, signInWithToken, endedBecause } = useSession();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from ?? '/datasets';
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      await signInWithToken({ token: String(form.get('token') ?? ''), tenant: String(form.get('tenant') ?? '') });
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  // Signed in (with a token): who the API says this is, before going on.
  if (signedIn?.kind === 'external') {
    const { identity, tenant, role, expiresAt } = signedIn;
    return (
      <PublicPage title="Signed in with your identity provider’s token">
        <dl className="row mb-3" id="external-identity-facts">
          <dt className="col-sm-4">External identity</dt>
          <dd className="col-sm-8" data-field="subject">
            {identity.subject}
          </dd>
          <dt className="col-sm-4">Email</dt>
          <dd className="col-sm-8" data-field="email">
            {identity.email ?? 'none (the token carries no verified email)'}
          </dd>
          <dt className="col-sm-4">Issuer</dt>
          <dd className="col-sm-8 text-break" data-field="issuer">
            {identity.issuer}
          </dd>
          <dt className="col-sm-4">Tenant</dt>
          <dd className="col-sm-8" data-field="tenant">
            {tenant.name} ({tenant.slug})
          </dd>
          <dt className="col-sm-4">Role</dt>
          <dd className="col-sm-8" data-field="role">
            {role}
          </dd>
          <dt className="col-sm-4">Valid until</dt>
          <dd className="col-sm-8" data-field="expires">
            {expiresAt ? formatWhen(new Date(expiresAt).toISOString()) : 'no expiry given'}
          </dd>
        </dl>
        <p className="small text-body-secondary">When the token expires, the console returns here: sign in with a new one from your provider.</p>
        <Button onClick={() => navigate(from, { replace: true })}>Continue</Button>
      </PublicPage>
    );
  }

  return (
    <PublicPage title="Sign in with your identity provider’s token">
      {endedBecause?.kind === 'external' && failure === undefined ? <Alert variant="warning">{endedBecause.message}</Alert> : null}
      <ErrorAlert error={failure} onDismiss={dismiss} title="The token was refused" />
      {signedIn ? <Alert variant="info">You are signed in as a user: signing in with a token replaces that session here.</Alert> : null}
      <Form onSubmit={submit} noValidate>
        <Form.Group className="mb-3" controlId="token-sign-in-token">
          <Form.Label>Token</Form.Label>
          <Form.Control name="token" as="textarea" rows={5} required spellCheck={false} autoComplete="off" className="font-monospace" aria-describedby="token-sign-in-token-help" />
          <Form.Text id="token-sign-in-token-help">The JWT your identity provider issued (three parts separated by dots). It is kept for this tab only and forgotten when you sign out.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="token-sign-in-tenant">
          <Form.Label>Tenant</Form.Label>
          <Form.Control name="tenant" autoComplete="organization" aria-describedby="token-sign-in-tenant-help" />
          <Form.Text id="token-sign-in-tenant-help">Its slug; optional: needed only when several tenants trust your provider.</Form.Text>
        </Form.Group>
        <Button type="submit" disabled={busy}>
          Sign in
        </Button>
      </Form>
      <p className="mt-3 mb-0">
        Have a Sluice account? <Link to="/sign-in">Sign in with email and password</Link>
      </p>
    </PublicPage>
  );
}
