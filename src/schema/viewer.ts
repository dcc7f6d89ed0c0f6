/** `viewer`: who the caller is. */
import type { Actor } from '../domains/actor.js';
import type { MyTenant } from '../domains/identity/privacy.service.js';
import { builder, encodeNodeId } from './builder.js';
import { ApiKeyRef } from './api-keys.js';
import { permissionsOf } from '../domains/access/permissions.js';
import { PermissionEnum } from './permissions.js';
import { ApiScopeEnum, RoleEnum, TenantRef, UserRef } from './tenancy.js';

const ActorKindEnum = builder.enumType('ActorKind', {
  values: {
    ANONYMOUS: { value: 'anonymous', description: 'No credential was presented.' },
    USER: { value: 'user', description: 'A signed-in user (Sluice access token).' },
    API_KEY: { value: 'apiKey', description: 'A program using an API key.' },
    EXTERNAL: { value: 'external', description: "A token from a tenant's trusted identity provider." },
  } as const,
});

const MyTenantRef = builder.objectRef<MyTenant>('MyTenant').implement({
  description: "A tenant the signed-in user is a member of, with their role there: what `switchTenant` accepts.",
  fields: (t) => ({
    tenantId: t.id({ description: "The tenant's global id (as `Tenant.id`).", resolve: ({ tenantId }) => encodeNodeId('Tenant', tenantId) }),
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    role: t.field({ type: RoleEnum, resolve: ({ role }) => role }),
    current: t.exposeBoolean('current', { description: "The tenant of this request's session." }),
  }),
});

const ViewerRef = builder.objectRef<{ actor: Actor; expiresAt: Date | null }>('Viewer');

ViewerRef.implement({
  description: 'The caller of this operation.',
  fields: (t) => ({
    kind: t.field({ type: ActorKindEnum, resolve: ({ actor }) => actor.kind }),
    user: t.field({
      type: UserRef,
      nullable: true,
      resolve: (_viewer, _args, ctx) => ctx.services.tenancy.currentUser(),
    }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The API key of this request, when the caller is a program.',
      resolve: ({ actor }) => (actor.kind === 'apiKey' ? actor.apiKeyId : null),
    }),
    email: t.string({ nullable: true, description: 'The email of a user, or the one an external token carries.', resolve: ({ actor }) => actor.email }),
    externalSubject: t.string({
      nullable: true,
      description: 'For an external identity: `sub` of its token.',
      resolve: ({ actor }) => (actor.kind === 'external' ? actor.subject : null),
    }),
    externalIssuer: t.string({
      nullable: true,
      resolve: ({ actor }) => (actor.kind === 'external' ? actor.issuer : null),
    }),
    tenant: t.field({
      type: TenantRef,
      nullable: true,
      resolve: (_viewer, _args, ctx) => ctx.services.tenancy.currentTenant(),
    }),
    role: t.field({ type: RoleEnum, nullable: true, resolve: ({ actor }) => actor.role }),
    tenants: t.field({
      type: [MyTenantRef],
      nullable: true,
      description:
        "The tenants a signed-in user is a member of (their own memberships only), by name. An API key or external identity is refused (FORBIDDEN, NOT_A_USER): it belongs to one tenant.",
      resolve: (_viewer, _args, ctx) => ctx.services.privacy.myTenants(),
    }),
    scopes: t.field({ type: [ApiScopeEnum], resolve: ({ actor }) => [...actor.scopes] }),
    permissions: t.field({
      type: [PermissionEnum],
      description:
        "What the caller may do now in its tenant, by the server's own rule table: a person's role decides, an API key's scopes (within its creator's role); anonymous holds none. A client asks this rather than repeating the rules, and offers only what will be allowed.",
      resolve: ({ actor }) => permissionsOf(actor),
    }),
    credentialExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the credential of this request stops being accepted.',
      resolve: ({ expiresAt }) => expiresAt,
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    description: 'Who is calling: anonymous, or a user, API key or external identity in a tenant.',
    resolve: (_root, _args, ctx) => ({ actor: ctx.actor, expiresAt: ctx.credentialExpiresAt }),
  }),
);
