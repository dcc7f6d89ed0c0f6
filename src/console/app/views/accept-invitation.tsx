/**
 * Accepting an invitation. The inviter passes on a link whose fragment holds the token (a
 * fragment never reaches a server or its logs), or the token itself. Signed in as the invited
 * email, it is accepted for that account; signed out, a password creates the account or, for
 * an existing one, is its password (a person with no tenant left cannot sign in first).
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { Link, useLocation, useNavigate } from 'react-router';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { useSession } from '../session.js';
import { PublicPage } from './public-page.js';

export function AcceptInvitation() {
  const { signedIn: anyone, acceptInvitation } = useSession();
  // An external identity has no account to add a membership to: it is treated as signed out.
  const signedIn = anyone?.kind === 'user' ? anyone : undefined;
  const navigate = useNavigate();
  const fromLink = new URLSearchParams(useLocation().hash.slice(1)).get('token') ?? '';
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const displayName = String(form.get('displayName') ?? '').trim();
    setBusy(true);
    try {
      await acceptInvitation({
        token: String(form.get('token')).trim(),
        password: signedIn ? undefined : String(form.get('password')),
        displayName: displayName || undefined,
      });
      navigate('/datasets', { replace: true });
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <PublicPage title="Accept an invitation">
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not accept the invitation" />
      <p>
        {signedIn ? (
          <>
            Signed in as <strong>{signedIn.user.email}</strong>: the invitation must be for this email. Not you? <Link to="/sign-in">Sign in</Link> as someone else after signing out.
          </>
        ) : (
          <>
            {anyone ? 'You signed in with an identity provider’s token, which has no Sluice account to accept an invitation with. ' : null}
            Choose a password to create your account with the invited email. Have an account already? Give its password here, or <Link to="/sign-in">sign in</Link> first and open the link again.
          </>
        )}
      </p>
      <Form onSubmit={submit} noValidate id="accept-invitation-form">
        <Form.Group className="mb-3" controlId="invitation-token">
          <Form.Label>Invitation token</Form.Label>
          <Form.Control name="token" defaultValue={fromLink} required className="font-monospace" aria-describedby="invitation-token-help" />
          <Form.Text id="invitation-token-help">Starts with sli_; filled in when you follow the link you were sent.</Form.Text>
        </Form.Group>
        {signedIn ? null : (
          <Form.Group className="mb-3" controlId="invitation-password">
            <Form.Label>Password</Form.Label>
            <Form.Control name="password" type="password" autoComplete="new-password" required aria-describedby="invitation-password-help" />
            <Form.Text id="invitation-password-help">10 characters or more.</Form.Text>
          </Form.Group>
        )}
        <Form.Group className="mb-3" controlId="invitation-name">
          <Form.Label>Your name</Form.Label>
          <Form.Control name="displayName" autoComplete="name" aria-describedby="invitation-name-help" />
          <Form.Text id="invitation-name-help">Optional: shown to the tenant's members.</Form.Text>
        </Form.Group>
        <Button type="submit" disabled={busy}>
          Accept
        </Button>
      </Form>
    </PublicPage>
  );
}
