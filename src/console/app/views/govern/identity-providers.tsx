/**
 * The tenant's identity providers (ADMIN): the issuers whose tokens act in this tenant as
 * external identities (docs/identity.md). Listed 100 at a time; register one below; remove one
 * after asking (its tokens are refused from their next request).
 */
import { useCallback, useEffect, useState } from 'react';
import Button from 'react-bootstrap/Button';
import Card from 'react-bootstrap/Card';
import Spinner from 'react-bootstrap/Spinner';
import Table from 'react-bootstrap/Table';
import { ConsoleIdentityProvidersDocument, ConsoleRemoveIdentityProviderDocument, type ConsoleIdentityProviderFieldsFragment } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatWhen } from '../../format.js';
import { useSession } from '../../session.js';
import { Confirm } from './confirm.js';
import { RegisterIdentityProvider } from './register-identity-provider.js';

type Provider = ConsoleIdentityProviderFieldsFragment;

export function IdentityProviders() {
  const { call } = useSession();
  const [providers, setProviders] = useState<Provider[] | undefined>();
  const [next, setNext] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Provider | undefined>();
  const [failure, fail, dismiss] = useFailure();

  const load = useCallback(
    async (after?: string) => {
      try {
        const { viewer } = await call((client) => client.query(ConsoleIdentityProvidersDocument, { first: 100, after }));
        const page = viewer.tenant?.identityProviders;
        const rows = page?.edges.map((edge) => edge.node) ?? [];
        setProviders((shown) => (after ? [...(shown ?? []), ...rows] : rows));
        setNext(page?.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? null) : null);
      } catch (error) {
        fail(error);
      }
    },
    [call, fail],
  );
  useEffect(() => void load(), [load]);

  const remove = async (provider: Provider) => {
    setRemoving(undefined);
    try {
      await call((client) => client.mutate(ConsoleRemoveIdentityProviderDocument, { id: provider.id }));
      await load();
    } catch (error) {
      fail(error);
    }
  };

  return (
    <>
      <h1 className="h3">Identity providers</h1>
      <p className="text-body-secondary">
        People of a partner’s single sign-on act in this tenant with the tokens its identity provider issues (an API call’s bearer, or the console’s “Sign in with your identity provider’s token”), with the role its
        claims map to, never above ADMIN.
      </p>
      <ErrorAlert error={failure} onDismiss={dismiss} />
      {providers === undefined ? (
        failure === undefined ? (
          <Spinner animation="border" role="status" size="sm">
            <span className="visually-hidden">Loading identity providers</span>
          </Spinner>
        ) : null
      ) : providers.length === 0 ? (
        <Card body className="empty-state mb-4" id="identity-providers-empty">
          <strong>No identity providers yet.</strong> Register your partner’s issuer below, with its audience and its public keys.
        </Card>
      ) : (
        <Table responsive className="mb-2" id="identity-providers-table">
          <caption className="visually-hidden">The tenant's identity providers</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Issuer and audience</th>
              <th scope="col">Keys</th>
              <th scope="col">Claims</th>
              <th scope="col">Roles</th>
              <th scope="col">Registered</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {providers.map((provider) => (
              <tr key={provider.id} data-issuer={provider.issuer}>
                <td>{provider.name}</td>
                <td className="text-break">
                  <code>{provider.issuer}</code>
                  <br />
                  <span className="small">audience </span>
                  <code>{provider.audience}</code>
                </td>
                <td className="text-break">{provider.jwksUrl ? <code>{provider.jwksUrl}</code> : 'inline key set'}</td>
                <td>
                  email: <code>{provider.emailClaim}</code>
                  {provider.roleClaim ? (
                    <>
                      <br />
                      role: <code>{provider.roleClaim}</code>
                    </>
                  ) : null}
                </td>
                <td data-field="roles">{describeRoles(provider)}</td>
                <td>{formatWhen(provider.createdAt)}</td>
                <td className="text-end">
                  <Button size="sm" variant="outline-danger" onClick={() => setRemoving(provider)} aria-label={`Remove ${provider.name}`}>
                    Remove
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {next ? (
        <Button variant="outline-secondary" className="mb-4" onClick={() => void load(next)}>
          Load more
        </Button>
      ) : null}
      <RegisterIdentityProvider onRegistered={() => void load()} />
      <Confirm title={removing ? `Remove “${removing.name}”?` : undefined} confirmLabel="Remove" keepLabel="Keep it" onCancel={() => setRemoving(undefined)} onConfirm={() => removing && void remove(removing)}>
        Tokens from <code>{removing?.issuer}</code> for <code>{removing?.audience}</code> are refused from their next request, including anyone signed in to the console with one.
      </Confirm>
    </>
  );
}

/** "partner-admin → ADMIN, otherwise VIEWER": the mapping as people read it. */
function describeRoles(provider: Provider): string {
  const mapping = Object.entries((provider.roleMapping ?? {}) as Record<string, unknown>).map(([value, role]) => `${value} → ${String(role)}`);
  return mapping.length ? `${mapping.join(', ')}; otherwise ${provider.defaultRole}` : provider.defaultRole;
}
