/** Tenants, users and memberships. */
import type { Membership } from '../domains/tenancy/membership.entity.js';
import { API_SCOPES, ROLES } from '../domains/access/roles.js';
import type { Tenant } from '../domains/tenancy/tenant.entity.js';
import type { User } from '../domains/tenancy/user.entity.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import { toConnection } from './pagination.js';
import { boundedList } from './string-bounds.js';

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
    rateLimitPerSecond: t.exposeInt('rateLimitPerSecond', {
      nullable: true,
      description: "Requests per second each of the tenant's users, API keys and external identities may send; null: the server default.",
    }),
    rateLimitBurst: t.exposeInt('rateLimitBurst', {
      nullable: true,
      description: 'Requests each principal may send at once before the per-second rate applies; null: the server default.',
    }),
    auditStoreEmails: t.exposeBoolean('auditStoreEmails', { description: 'false: audit events keep a keyed digest of emails, not the address.' }),
    auditRetentionDays: t.exposeInt('auditRetentionDays'),
    usageRetentionDays: t.exposeInt('usageRetentionDays'),
    documentRetentionHours: t.exposeInt('documentRetentionHours', {
      nullable: true,
      description: 'Hours documents are kept after they were last ingested, in datasets that set no period of their own; null: kept until deleted.',
    }),
    ipAllowList: t.stringList({
      nullable: true,
      description: 'CIDR ranges the tenant’s credentials may call from; null: anywhere. ADMIN (`config:read`): others get FORBIDDEN.',
      authScopes: { permission: 'config:read' },
      resolve: (tenant) => tenant.ipAllowList ?? null,
    }),
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
    // Programs without `admin` are not told who works here; people of the tenant are (a team page).
    email: t.exposeString('email', {
      nullable: true,
      description: "Visible to the user themselves and to the tenant's people (`memberEmail:read`); an API key needs the admin scope (FORBIDDEN otherwise).",
      authScopes: (user, _args, ctx) => user.id === ctx.actor.userId || { permission: 'memberEmail:read' },
    }),
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
    name: t.string({ required: false, ...displayText('name') }),
    apiKeyDefaultTtlDays: t.int({ required: false, description: '1 to 3650.' }),
    rateLimitPerSecond: t.int({ required: false, description: '1 to 1000 requests a second per principal; null: back to the server default. ADMIN may set it.' }),
    rateLimitBurst: t.int({ required: false, description: '1 to 10000 requests at once per principal; null: back to the server default. ADMIN may set it.' }),
    auditStoreEmails: t.boolean({ required: false, description: 'false: audit events keep a keyed digest of the actor’s email instead (OWNER).' }),
    auditRetentionDays: t.int({ required: false, description: 'Days audit events are kept, 1 to 3650 (OWNER).' }),
    usageRetentionDays: t.int({ required: false, description: 'Days usage records and policy decisions are kept, 1 to 3650 (OWNER).' }),
    documentRetentionHours: t.int({
      required: false,
      description: 'Hours documents are kept after they were last ingested, 1 to 87600, in datasets that set none (OWNER); null: kept until deleted.',
    }),
    ipAllowList: t.stringList({
      required: false,
      description: 'CIDR ranges (IPv4 or IPv6) the tenant’s credentials may call from; [] removes the restriction (OWNER). Must include your own address.',      ...boundedList('cidr'),
    }),
  }),
});

builder.mutationField('updateTenantSettings', (t) =>
  t.field({
    type: TenantRef,
    description: "Settings of the caller's tenant: name and API key lifetime (OWNER), rate limits (OWNER or ADMIN).",
    // The lower of the two bars; the service asks for OWNER when anything but the limits changes.
    authScopes: { permission: 'policy:manage' },
    args: { input: t.arg({ type: UpdateTenantSettingsInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.tenancy.updateSettings(input),
  }),
);
