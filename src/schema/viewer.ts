/** `viewer`: who the caller is. */
import type { Actor } from '../domains/actor.js';
import { builder } from './builder.js';
import { ApiKeyRef } from './api-keys.js';
import { ApiScopeEnum, RoleEnum, TenantRef, UserRef } from './tenancy.js';

const ActorKindEnum = builder.enumType('ActorKind', {
  values: {
    ANONYMOUS: { value: 'anonymous', description: 'No credential was presented.' },
    USER: { value: 'user', description: 'A signed-in user (Sluice access token).' },
    API_KEY: { value: 'apiKey', description: 'A program using an API key.' },
    EXTERNAL: { value: 'external', description: "A token from a tenant's trusted identity provider." },
  } as const,
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
    scopes: t.field({ type: [ApiScopeEnum], resolve: ({ actor }) => [...actor.scopes] }),
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
