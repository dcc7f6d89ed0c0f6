/** Sign-up, log-in and sessions. */
import type { AuthPayload, TenantSwitch } from '../domains/identity/account.service.js';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import type { Tenant } from '../domains/tenancy/tenant.entity.js';
import type { User } from '../domains/tenancy/user.entity.js';
import { RoleEnum } from './tenancy.js';
import { bounded } from './string-bounds.js';

const SessionUserRef = builder.objectRef<User>('SessionUser').implement({
  description: 'The signed-in user of an AuthPayload.',
  fields: (t) => ({
    id: t.globalID({ resolve: (user) => ({ type: 'User', id: user.id }) }),
    email: t.exposeString('email'),
    displayName: t.exposeString('displayName', { nullable: true }),
  }),
});

const SessionTenantRef = builder.objectRef<Tenant>('SessionTenant').implement({
  description: 'The tenant an AuthPayload acts in.',
  fields: (t) => ({
    id: t.globalID({ resolve: (tenant) => ({ type: 'Tenant', id: tenant.id }) }),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
  }),
});

/** A tenant argument: its global id (what the API hands out), raw id, or slug. */
function tenantKey(value: string): string {
  try {
    const { typename, id } = decodeGlobalID(value);
    if (typename === 'Tenant') return id;
  } catch {
    // not a global id: a raw id or a slug
  }
  return value;
}

export const AuthPayloadRef = builder.objectRef<AuthPayload>('AuthPayload').implement({
  description: 'A new session: send `accessToken` as `Authorization: Bearer …`; trade `refreshToken` for the next pair.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken', { description: 'A JWT, valid until `expiresAt`.' }),
    refreshToken: t.exposeString('refreshToken', { description: 'Opaque and single use: refreshSession returns its successor.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    // Summaries, not the Tenant / User nodes: the request ran before this identity existed, so
    // the nodes' tenant checks (rightly) refuse it. The ids are the nodes' global ids.
    user: t.field({ type: SessionUserRef, resolve: (payload) => payload.user }),
    tenant: t.field({ type: SessionTenantRef, resolve: (payload) => payload.tenant }),
    role: t.expose('role', { type: RoleEnum }),
  }),
});

const TenantSwitchRef = builder.objectRef<TenantSwitch>('TenantSwitch').implement({
  description:
    'The session, moved to another tenant: a new `accessToken` there. No refresh token: keep the one you hold, its next refresh yields tokens for this tenant.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken', { description: 'A JWT, valid until `expiresAt`: no later than the token that asked for the switch.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    user: t.field({ type: SessionUserRef, resolve: (payload) => payload.user }),
    tenant: t.field({ type: SessionTenantRef, resolve: (payload) => payload.tenant }),
    role: t.expose('role', { type: RoleEnum }),
  }),
});

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    email: t.string({ required: true, ...bounded('email', 'email') }),
    password: t.string({ required: true, description: 'At least 10 characters, at most 256 bytes.', ...bounded('password', 'secret') }),
    tenantName: t.string({ required: true, ...displayText('name'), description: 'Your organisation; its slug is derived from it.' }),
  }),
});

const LogInInput = builder.inputType('LogInInput', {
  fields: (t) => ({
    email: t.string({ required: true, ...bounded('email', 'email') }),
    password: t.string({ required: true, ...bounded('password', 'secret') }),
    tenant: t.string({ required: false, description: 'Tenant id or slug; your oldest membership when omitted.', ...bounded('tenant') }),
  }),
});

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayloadRef,
    description: 'Creates a user, a tenant and an OWNER membership, and signs in.',
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.accounts.signUp(input),
  }),
  logIn: t.field({
    type: AuthPayloadRef,
    args: { input: t.arg({ type: LogInInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.accounts.logIn({ ...input, tenant: input.tenant ? tenantKey(input.tenant) : null }),
  }),
  refreshSession: t.field({
    type: AuthPayloadRef,
    description: 'Trades a refresh token for a new pair. Presenting a used one ends the whole session.',
    args: { refreshToken: t.arg.string({ required: true, ...bounded('token', 'secret') }) },
    resolve: (_root, { refreshToken }, ctx) => ctx.services.accounts.refreshSession(refreshToken),
  }),
  logOut: t.boolean({
    description: "Ends the caller's session: its refresh and access tokens stop working.",
    authScopes: { authenticated: true },
    resolve: (_root, _args, ctx) => ctx.services.accounts.logOut(),
  }),
  switchTenant: t.field({
    type: TenantSwitchRef,
    description:
      "Moves the caller's session to another tenant they belong to (id or slug; the current one changes nothing). Returns an access token only: the session keeps its refresh token.",
    authScopes: { authenticated: true },
    args: { tenant: t.arg.string({ required: true, ...bounded('tenant') }) },
    resolve: (_root, { tenant }, ctx) => ctx.services.accounts.switchTenant(tenantKey(tenant), ctx.credentialExpiresAt),
  }),
}));
