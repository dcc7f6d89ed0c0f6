/**
 * Your account (docs/audit.md, "Personal data"): everything Sluice holds about you as one JSON
 * file (`exportMyData`), and erasing the account (`deleteMyAccount`), which needs the password
 * and asks first. The server refuses (CONFLICT, SOLE_OWNER) while you are the only owner of a
 * tenant with other members; the refusal is shown as it said it. An external identity (an
 * identity provider's token) has no Sluice account: the view says so instead (the API would
 * refuse both: FORBIDDEN, NOT_A_USER).
 */
import { useState, type FormEvent } from 'react';
import Alert from 'react-bootstrap/Alert';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Form from 'react-bootstrap/Form';
import { Link, useNavigate } from 'react-router';
import { DeleteMyAccountDocument, ExportMyDataDocument } from '../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../error-alert.js';
import { NOT_A_USER, signedInName, useSession } from '../session.js';
import { Confirm } from './govern/confirm.js';
import { PublicPage } from './public-page.js';

/** An export is one jsonb value, which PostgreSQL holds to 255 MiB at most. */
const EXPORT_MAX_BYTES = 256 * 1024 * 1024;

export function Account() {
  const { call, signedIn, signOut } = useSession();
  const navigate = useNavigate();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);
  const [exported, setExported] = useState<string | undefined>();
  const [password, setPassword] = useState('');
  const [asking, setAsking] = useState(false);

  const download = async () => {
    setBusy(true);
    dismiss();
    try {
      // Everything about a busy person (every audit event) can outgrow the client's 16 MiB default.
      const { exportMyData } = await call((client) => client.query(ExportMyDataDocument, {}, { maxResponseBytes: EXPORT_MAX_BYTES }));
      const name = `sluice-my-data-${new Date().toISOString().slice(0, 10)}.json`;
      // A Blob URL from this page: nothing is fetched from anywhere else (the page's CSP allows no other host).
      const url = URL.createObjectURL(new Blob([JSON.stringify(exportMyData, null, 2)], { type: 'application/json' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = name;
      link.click();
      URL.revokeObjectURL(url);
      setExported(name);
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  const erase = async () => {
    setAsking(false);
    setBusy(true);
    dismiss();
    try {
      await call((client) => client.mutate(DeleteMyAccountDocument, { password }));
    } catch (error) {
      fail(error);
      setBusy(false);
      return;
    }
    // The server ended every session with the account: the local one is forgotten too (its
    // log-out call may be refused now, which changes nothing).
    navigate('/account-deleted', { replace: true });
    await signOut().catch(() => undefined);
  };

  const ask = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    setAsking(true);
  };

  if (signedIn?.kind === 'external') {
    return (
      <section aria-labelledby="account-title" className="narrow">
        <h1 id="account-title" className="h3">
          Your account
        </h1>
        <p>
          Signed in as <strong>{signedInName(signedIn)}</strong> ({signedIn.identity.issuer}), in tenant {signedIn.tenant.name} ({signedIn.tenant.slug}) as {signedIn.role}.
        </p>
        <Alert variant="info" id="account-external">
          {NOT_A_USER} Downloading your data and deleting your account are for Sluice accounts: your account is your identity provider’s.
        </Alert>
      </section>
    );
  }

  return (
    <section aria-labelledby="account-title" className="narrow">
      <h1 id="account-title" className="h3">
        Your account
      </h1>
      <p>
        Signed in as <strong>{signedIn?.user.email}</strong>, in tenant {signedIn?.tenant.name} ({signedIn?.tenant.slug}) as {signedIn?.role}.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      <Card className="mb-3">
        <Card.Body>
          <h2 className="h5">Your data</h2>
          <p>
            Everything Sluice holds about you, in every tenant: your profile, memberships, sessions, the API keys you created (never their
            secrets), your usage and your audit events, as one JSON file.
          </p>
          <Button onClick={() => void download()} disabled={busy}>
            Download my data
          </Button>
          {exported ? (
            <p role="status" className="mt-2 mb-0">
              Saved as {exported}.
            </p>
          ) : null}
        </Card.Body>
      </Card>
      <Card border="danger">
        <Card.Body>
          <h2 className="h5">Delete my account</h2>
          <p>
            Your sessions, memberships and API keys end; tenants that only you belong to are deleted with their data; your audit events keep a
            pseudonym instead of your name and email. While you are the only owner of a tenant that has other members, make another member an
            owner first (Members).
          </p>
          <Form onSubmit={ask}>
            <Form.Group className="mb-3" controlId="account-delete-password">
              <Form.Label>Your password</Form.Label>
              <Form.Control type="password" autoComplete="current-password" required value={password} onChange={(event) => setPassword(event.target.value)} />
            </Form.Group>
            <Button type="submit" variant="danger" disabled={busy || password === ''}>
              Delete my account…
            </Button>
          </Form>
        </Card.Body>
      </Card>
      <Confirm title={asking ? 'Delete your account?' : undefined} confirmLabel="Delete my account" onConfirm={() => void erase()} onCancel={() => setAsking(false)}>
        This cannot be undone. {signedIn?.user.email} will no longer be able to sign in, and tenants only you belong to are deleted.
      </Confirm>
    </section>
  );
}

/** Where a deleted account lands: signed out, outside the signed-in frame. */
export function AccountDeleted() {
  return (
    <PublicPage title="Your account is deleted">
      <p>Your sessions have ended and your personal data is erased.</p>
      <Link to="/sign-up">Sign up</Link> to start again.
    </PublicPage>
  );
}
