/**
 * The tenant's identity providers (ADMIN): the issuers whose tokens act in this tenant as
 * external identities (docs/identity.md). Listed 100 at a time; an OWNER signed in as a person
 * registers one below; remove one after asking (its tokens are refused from their next request).
 */
import { useCallback, useState } from 'react';
import Button from 'react-bootstrap/Button';
import { ConsoleIdentityProvidersDocument, ConsoleRemoveIdentityProviderDocument, type ConsoleIdentityProviderFieldsFragment } from '../../../../sdk/index.js';
import { ErrorAlert, useFailure } from '../../error-alert.js';
import { formatWhen } from '../../format.js';
import { usePagedList } from '../../paged-list.js';
import { ACTIONS, EmptyState, ResourceList, ResourceTable } from '../../resource-list.js';
import { useSession } from '../../session.js';
import { Confirm } from './confirm.js';
import { RegisterIdentityProvider } from './register-identity-provider.js';

type Provider = ConsoleIdentityProviderFieldsFragment;

export function IdentityProviders() {
  const { call, signedIn } = useSession();
  const [removing, setRemoving] = useState<Provider | undefined>();
  const [failure, fail, dismiss] = useFailure();
  const providers = usePagedList(
    useCallback(async (after: string | undefined) => (await call((client) => client.query(ConsoleIdentityProvidersDocument, { first: 100, after }))).viewer.tenant?.identityProviders, [call]),
    fail,
  );

  const remove = async (provider: Provider) => {
    setRemoving(undefined);
    try {
      await call((client) => client.mutate(ConsoleRemoveIdentityProviderDocument, { id: provider.id }));
      await providers.reload();
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
      <ResourceList list={providers} failure={failure} loadingLabel="Loading identity providers"
        empty={
          <EmptyState id="identity-providers-empty">
            <strong>No identity providers yet.</strong> Register your partner’s issuer below, with its audience and its public keys.
          </EmptyState>
        }
      >
        {(rows) => (
          <ResourceTable id="identity-providers-table" caption="The tenant's identity providers" columns={['Name', 'Issuer and audience', 'Keys', 'Claims', 'Roles', 'Registered', ACTIONS]}>
            {rows.map((provider) => (
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
          </ResourceTable>
        )}
      </ResourceList>
      {signedIn?.kind === 'user' && signedIn.role === 'OWNER' ? (
        <RegisterIdentityProvider onRegistered={() => void providers.reload()} />
      ) : (
        // The API refuses anyone else (a provider's signer chooses its tokens' lifetimes, as only an OWNER's keys may).
        <p id="identity-providers-owners-only" className="text-body-secondary">Only an owner, signed in with email and password, may register an identity provider.</p>
      )}
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
