/** Sign in: email, password and, optionally, the tenant (its slug; the oldest membership without it). */
import { useState, type FormEvent } from 'react';
import Alert from 'react-bootstrap/Alert';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { Link, Navigate, useLocation, useNavigate } from 'react-router';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { useSession } from '../session.js';
import { PublicPage } from './public-page.js';

export function SignIn() {
  const { signedIn, signIn, endedBecause } = useSession();
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from ?? '/datasets';
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  if (signedIn) return <Navigate to={from} replace />;

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      await signIn({ email: String(form.get('email')), password: String(form.get('password')), tenant: String(form.get('tenant') ?? '') });
      navigate(from, { replace: true });
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <PublicPage title="Sign in">
      {endedBecause && failure === undefined ? <Alert variant="warning">{endedBecause.message}</Alert> : null}
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not sign in" />
      <Form onSubmit={submit} noValidate>
        <Form.Group className="mb-3" controlId="sign-in-email">
          <Form.Label>Email</Form.Label>
          <Form.Control name="email" type="email" autoComplete="username" required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="sign-in-password">
          <Form.Label>Password</Form.Label>
          <Form.Control name="password" type="password" autoComplete="current-password" required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="sign-in-tenant">
          <Form.Label>Tenant</Form.Label>
          <Form.Control name="tenant" autoComplete="organization" aria-describedby="sign-in-tenant-help" />
          <Form.Text id="sign-in-tenant-help">Its slug; optional: without it, your oldest membership.</Form.Text>
        </Form.Group>
        <Button type="submit" disabled={busy}>
          Sign in
        </Button>
      </Form>
      <p className="mt-3 mb-1">
        <Link to="/sign-in/token" state={{ from }}>
          Sign in with your identity provider’s token
        </Link>{' '}
        (a partner’s single sign-on, registered by your tenant’s admins)
      </p>
      <p className="mb-0">
        No account yet? <Link to="/sign-up">Sign up</Link>
      </p>
    </PublicPage>
  );
}
