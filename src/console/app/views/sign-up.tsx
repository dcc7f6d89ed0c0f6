/** Sign up: an account and its first tenant (the API derives the tenant's slug from its name). */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { Link, Navigate, useNavigate } from 'react-router';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { useSession } from '../session.js';
import { PublicPage } from './public-page.js';

export function SignUp() {
  const { signedIn, signUp } = useSession();
  const navigate = useNavigate();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  if (signedIn) return <Navigate to="/datasets" replace />;

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    try {
      await signUp({ email: String(form.get('email')), password: String(form.get('password')), tenantName: String(form.get('tenantName')) });
      navigate('/datasets', { replace: true });
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <PublicPage title="Create an account">
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not sign up" />
      <Form onSubmit={submit} noValidate>
        <Form.Group className="mb-3" controlId="sign-up-email">
          <Form.Label>Email</Form.Label>
          <Form.Control name="email" type="email" autoComplete="username" required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="sign-up-password">
          <Form.Label>Password</Form.Label>
          <Form.Control name="password" type="password" autoComplete="new-password" required aria-describedby="sign-up-password-help" />
          <Form.Text id="sign-up-password-help">At least 10 characters.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="sign-up-tenant">
          <Form.Label>Organisation</Form.Label>
          <Form.Control name="tenantName" autoComplete="organization" required aria-describedby="sign-up-tenant-help" />
          <Form.Text id="sign-up-tenant-help">Your tenant: you are its owner. Its slug is made from this name.</Form.Text>
        </Form.Group>
        <Button type="submit" disabled={busy}>
          Sign up
        </Button>
      </Form>
      <p className="mt-3 mb-0">
        Have an account? <Link to="/sign-in">Sign in</Link>
      </p>
    </PublicPage>
  );
}
