/** Tenants, users and memberships. */
import type { Membership } from '../domains/tenancy/membership.entity.js';
import { API_SCOPES, ROLES } from '../domains/tenancy/roles.js';
import type { Tenant } from '../domains/tenancy/tenant.entity.js';
import type { User } from '../domains/tenancy/user.entity.js';
import { builder } from './builder.js';
import { toConnection } from './pagination.js';

export const RoleEnum = builder.enumType('Role', { values: ROLES });

export const ApiScopeEnum = builder.enumType('ApiScope', {
  values: Object.fromEntries(API_SCOPES.map((scope) => [scope.toUpperCase(), { value: scope }])) as Record<
    Uppercase<(typeof API_SCOPES)[number]>,
    { value: (typeof API_SCOPES)[number] }
  >,
});

export const TenantRef = builder.loadableNodeRef('Tenant', {
  id: { resolve: (tenant: Tenant) => tenant.id },
  load: (ids: string[], ctx) => ctx.services.tenancy.tenantsByIds(ids),
});

export const UserRef = builder.loadableNodeRef('User', {
  id: { resolve: (user: User) => user.id },
  load: (ids: string[], ctx) => ctx.services.tenancy.usersByIds(ids),
});

export const MembershipRef = builder.loadableNodeRef('Membership', {
  id: { resolve: (membership: Membership) => membership.id },
  load: (ids: string[], ctx) => ctx.services.tenancy.membershipsByIds(ids),
});

TenantRef.implement({
  description: 'An organisation on Sluice: the boundary of all its data.',
  authScopes: (tenant) => ({ tenant: tenant.id }),
  fields: (t) => ({
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    apiKeyDefaultTtlDays: t.exposeInt('apiKeyDefaultTtlDays', { description: 'Days until a new API key expires unless its creator says otherwise.' }),
    members: t.connection({
      type: MembershipRef,
      resolve: async (tenant, args, ctx) => toConnection(await ctx.services.tenancy.listMembers(tenant.id, args)),
    }),
  }),
});

UserRef.implement({
  description: 'A person. Visible to themselves and to members of a tenant they belong to.',
  // Users are global; who may see which user is decided by the service that loads them.
  authScopes: { authenticated: true },
  fields: (t) => ({
    email: t.exposeString('email'),
    displayName: t.exposeString('displayName', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

MembershipRef.implement({
  description: "A user's role in a tenant.",
  authScopes: (membership) => ({ tenant: membership.tenant.id }),
  fields: (t) => ({
    role: t.expose('role', { type: RoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    user: t.field({ type: UserRef, resolve: (membership) => membership.user.id }),
    tenant: t.field({ type: TenantRef, resolve: (membership) => membership.tenant.id }),
  }),
});

const UpdateTenantSettingsInput = builder.inputType('UpdateTenantSettingsInput', {
  fields: (t) => ({
    name: t.string({ required: false }),
    apiKeyDefaultTtlDays: t.int({ required: false, description: '1 to 3650.' }),
  }),
});

builder.mutationField('updateTenantSettings', (t) =>
  t.field({
    type: TenantRef,
    description: "Settings of the caller's tenant (OWNER).",
    authScopes: { permission: 'tenant:manage' },
    args: { input: t.arg({ type: UpdateTenantSettingsInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.tenancy.updateSettings(input),
  }),
);
