/**
 * Registering an identity provider: issuer, audience, its keys (a JWKS URL, or the key set
 * pasted as JSON), the claims to read and how role claims map to roles. The API checks it all
 * (exactly one of URL and key set, public keys only, a URL the egress guard allows, an issuer
 * and audience no other tenant claimed); the page checks only that pasted JSON parses.
 */
import { useState, type FormEvent } from 'react';
import Button from 'react-bootstrap/Button';
import Form from 'react-bootstrap/Form';
import { ConsoleRegisterIdentityProviderDocument, type RegisterIdentityProviderInput, type Role } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { SluiceError } from '../../sluice.js';
import { useSession } from '../../session.js';

/** OWNER is not offered: external identities are never above ADMIN (the API refuses it too). */
const ROLES: Role[] = ['VIEWER', 'MEMBER', 'ADMIN'];

export function RegisterIdentityProvider({ onRegistered }: { onRegistered: () => void }) {
  const { call } = useSession();
  const [failure, fail, dismiss] = useFailure();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const text = (name: string) => String(form.get(name) ?? '').trim();
    setBusy(true);
    try {
      const input: RegisterIdentityProviderInput = {
        name: text('name'),
        issuer: text('issuer'),
        audience: text('audience'),
        jwksUrl: text('jwksUrl') || undefined,
        jwks: text('jwks') ? parsedKeySet(text('jwks')) : undefined,
        emailClaim: text('emailClaim') || undefined,
        roleClaim: text('roleClaim') || undefined,
        roleMapping: parsedRoleMapping(text('roleMapping')),
        defaultRole: text('defaultRole') as Role,
      };
      await call((client) => client.mutate(ConsoleRegisterIdentityProviderDocument, { input }));
      formElement.reset();
      onRegistered();
    } catch (error) {
      fail(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="register-provider-title" className="mt-4 narrow">
      <h2 id="register-provider-title" className="h5">
        Register an identity provider
      </h2>
      <ErrorAlert error={failure} onDismiss={dismiss} title="Could not register the identity provider" />
      <Form onSubmit={submit} noValidate id="register-provider-form">
        <Form.Group className="mb-3" controlId="provider-name">
          <Form.Label>Name</Form.Label>
          <Form.Control name="name" required />
        </Form.Group>
        <Form.Group className="mb-3" controlId="provider-issuer">
          <Form.Label>Issuer</Form.Label>
          <Form.Control name="issuer" required aria-describedby="provider-issuer-help" />
          <Form.Text id="provider-issuer-help">Exactly the tokens’ <code>iss</code> claim, e.g. https://login.partner.example/.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="provider-audience">
          <Form.Label>Audience</Form.Label>
          <Form.Control name="audience" required aria-describedby="provider-audience-help" />
          <Form.Text id="provider-audience-help">What the tokens name in <code>aud</code>: the client id the provider gave this tenant.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="provider-jwks-url">
          <Form.Label>Key set URL</Form.Label>
          <Form.Control name="jwksUrl" type="url" aria-describedby="provider-jwks-url-help" />
          <Form.Text id="provider-jwks-url-help">Where the provider publishes its public keys (https in production). Give this or the key set below, not both.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="provider-jwks">
          <Form.Label>Key set (JSON)</Form.Label>
          <Form.Control name="jwks" as="textarea" rows={4} spellCheck={false} className="font-monospace" aria-describedby="provider-jwks-help" />
          <Form.Text id="provider-jwks-help">
            A JWKS, <code>{'{"keys": [ … ]}'}</code>, with public keys only.
          </Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="provider-email-claim">
          <Form.Label>Email claim</Form.Label>
          <Form.Control name="emailClaim" placeholder="email" aria-describedby="provider-email-claim-help" />
          <Form.Text id="provider-email-claim-help">The claim holding the person’s email (email when empty); policies match on it.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="provider-role-claim">
          <Form.Label>Role claim</Form.Label>
          <Form.Control name="roleClaim" aria-describedby="provider-role-claim-help" />
          <Form.Text id="provider-role-claim-help">Optional: the claim holding role names (a string or a list), e.g. groups.</Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="provider-role-mapping">
          <Form.Label>Role mapping</Form.Label>
          <Form.Control name="roleMapping" as="textarea" rows={3} spellCheck={false} className="font-monospace" aria-describedby="provider-role-mapping-help" />
          <Form.Text id="provider-role-mapping-help">
            One per line: <code>claim value = ROLE</code>, e.g. <code>partner-admin = ADMIN</code>. The strongest match applies.
          </Form.Text>
        </Form.Group>
        <Form.Group className="mb-3" controlId="provider-default-role">
          <Form.Label>Default role</Form.Label>
          <Form.Select name="defaultRole" defaultValue="VIEWER" aria-describedby="provider-default-role-help">
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {role}
              </option>
            ))}
          </Form.Select>
          <Form.Text id="provider-default-role-help">When no mapping applies.</Form.Text>
        </Form.Group>
        <Button type="submit" disabled={busy}>
          Register provider
        </Button>
      </Form>
    </section>
  );
}

/** The pasted key set as an object; anything else is refused here, naming the field, as the API would. */
function parsedKeySet(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw inputError('jwks', `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw inputError('jwks', 'must be a JSON object, {"keys": [ … ]}');
  return value as Record<string, unknown>;
}

/** `value = ROLE` lines to `{ value: ROLE }`; the API checks the roles. */
function parsedRoleMapping(text: string): Record<string, string> | undefined {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  if (lines.length === 0) return undefined;
  const mapping: Record<string, string> = {};
  lines.forEach((line, index) => {
    const at = line.lastIndexOf('=');
    const value = line.slice(0, at).trim();
    const role = line.slice(at + 1).trim().toUpperCase();
    if (at < 0 || !value || !role) throw inputError('roleMapping', `line ${index + 1} is not “claim value = ROLE”`);
    mapping[value] = role;
  });
  return mapping;
}

function inputError(field: string, message: string): SluiceError {
  return new SluiceError('BAD_USER_INPUT', 'Not sent: a field is not valid', { field, issues: [{ path: [field], message }] });
}
