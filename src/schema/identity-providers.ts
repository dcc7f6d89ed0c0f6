/** External identity providers a tenant trusts. */
import type { IdentityProvider } from '../domains/identity/identity-provider.entity.js';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import { toConnection } from './pagination.js';
import { RoleEnum, TenantRef, UserRef } from './tenancy.js';
import { bounded } from './string-bounds.js';

export const IdentityProviderRef = builder.loadableNodeRef('IdentityProvider', {
  id: { resolve: (provider: IdentityProvider) => provider.id },
  load: (ids: string[], ctx) => ctx.services.identityProviders.byIds(ids),
});

IdentityProviderRef.implement({
  description: "An issuer whose tokens act in this tenant as `external` identities, verified against the issuer's keys.",
  authScopes: (provider) => ({ $all: { tenant: provider.tenant.id, permission: 'identityProvider:manage' } }),
  fields: (t) => ({
    name: t.exposeString('name'),
    issuer: t.exposeString('issuer'),
    audience: t.exposeString('audience'),
    jwksUrl: t.exposeString('jwksUrl', { nullable: true }),
    jwks: t.field({ type: 'JSONObject', nullable: true, description: 'The inline key set as stored: its keys, each with only the members that verify tokens.', resolve: (provider) => provider.jwks }),
    emailClaim: t.exposeString('emailClaim'),
    roleClaim: t.exposeString('roleClaim', { nullable: true }),
    roleMapping: t.field({ type: 'JSONObject', resolve: (provider) => provider.roleMapping }),
    defaultRole: t.expose('defaultRole', { type: RoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    enabled: t.boolean({
      description: 'False: its tokens are refused (`UNAUTHENTICATED`). Removing or demoting the member who registered it disables it.',
      resolve: (provider) => !provider.disabledAt,
    }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    disabledReason: t.exposeString('disabledReason', {
      nullable: true,
      description: '`registrar-removed`, `registrar-demoted`, or `disabled` (by hand).',
    }),
    registeredBy: t.field({
      type: UserRef,
      nullable: true,
      description: 'The person who answers for it (registered or last enabled it); its tokens are refused once they no longer manage the tenant.',
      resolve: (provider) => provider.registeredBy?.id ?? null,
    }),
  }),
});

const UpdateIdentityProviderInput = builder.inputType('UpdateIdentityProviderInput', {
  fields: (t) => ({
    enabled: t.boolean({
      required: true,
      description: 'Enabling makes you the person who answers for it: only an OWNER signed in as themselves (not an API key or external identity) may, and must be able to grant every role it maps to.',
    }),
  }),
});

const RegisterIdentityProviderInput = builder.inputType('RegisterIdentityProviderInput', {
  fields: (t) => ({
    name: t.string({ required: true, ...displayText('name') }),
    issuer: t.string({ required: true, description: 'Must equal the `iss` claim of its tokens.', ...bounded('url') }),
    audience: t.string({ required: true, description: 'Tokens must name this in `aud`.', ...bounded('url') }),
    jwksUrl: t.string({ required: false, description: 'Where the issuer publishes its public keys (https in production).', ...bounded('url') }),
    jwks: t.field({
      type: 'JSONObject',
      required: false,
      description: 'Or the key set itself: public keys only (a key with a private member d, p, q, dp, dq, qi, oth or k is refused). Each key is stored with only the members that verify tokens (kty, n, e, crv, x, y, kid, alg, use, key_ops); others (x5c, issuer, ext, …) are dropped.',
      // Kept on the audit trail only as what identifies each key: a private key pasted by mistake is never stored there.
      ...audited.keySet,
    }),
    emailClaim: t.string({ required: false, description: 'Claim holding the email (default `email`).', ...bounded('keyword', 'plain') }),
    roleClaim: t.string({ required: false, description: 'Claim holding role names, mapped by `roleMapping`.', ...bounded('keyword') }),
    roleMapping: t.field({ type: 'JSONObject', required: false, description: 'Claim value → role, e.g. {"partner-admin": "ADMIN"}.' }),
    defaultRole: t.field({ type: RoleEnum, required: false, description: 'Role when no mapping applies (default VIEWER).' }),
  }),
});

builder.objectField(TenantRef, 'identityProviders', (t) =>
  t.connection({
    type: IdentityProviderRef,
    authScopes: { permission: 'identityProvider:manage' },
    resolve: async (_tenant, args, ctx) => toConnection(await ctx.services.identityProviders.list(args)),
  }),
);

builder.mutationFields((t) => ({
  registerIdentityProvider: t.field({
    type: IdentityProviderRef,
    description: 'Only an OWNER signed in as themselves (not an API key or external identity): its signer chooses how long each token lasts.',
    authScopes: { permission: 'identityProvider:manage' },
    args: { input: t.arg({ type: RegisterIdentityProviderInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.identityProviders.register({ ...input, roleMapping: input.roleMapping as Record<string, string> | null }),
  }),
  updateIdentityProvider: t.field({
    type: IdentityProviderRef,
    authScopes: { permission: 'identityProvider:manage' },
    args: { id: t.arg.globalID({ required: true, for: [IdentityProviderRef] }), input: t.arg({ type: UpdateIdentityProviderInput, required: true }) },
    resolve: (_root, { id, input }, ctx) => ctx.services.identityProviders.setEnabled(id.id, input.enabled),
  }),
  removeIdentityProvider: t.field({
    type: IdentityProviderRef,
    authScopes: { permission: 'identityProvider:manage' },
    args: { id: t.arg.globalID({ required: true, for: [IdentityProviderRef] }) },
    resolve: (_root, { id }, ctx) => ctx.services.identityProviders.remove(id.id),
  }),
}));
