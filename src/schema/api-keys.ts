/** API keys: credentials for programs. */
import type { CreatedApiKey } from '../domains/identity/api-key.service.js';
import type { ApiKey } from '../domains/identity/api-key.entity.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import { toConnection } from './pagination.js';
import { ApiScopeEnum, TenantRef, UserRef } from './tenancy.js';
import { changeOf } from './update-fields.js';

export const ApiKeyRef = builder.loadableNodeRef('ApiKey', {
  id: { resolve: (key: ApiKey) => key.id },
  load: (ids: string[], ctx) => ctx.services.apiKeys.byIds(ids),
});

ApiKeyRef.implement({
  description: 'A key for programs. Its secret was shown once, at creation; only its prefix is shown again.',
  // Managers see every key; a key may always see itself (viewer.apiKey).
  authScopes: (key, ctx) =>
    ctx.actor.kind === 'apiKey' && ctx.actor.apiKeyId === key.id
      ? { tenant: key.tenant.id }
      : { $all: { tenant: key.tenant.id, permission: 'apiKey:manage' } },
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to tell keys apart.' }),
    scopes: t.field({ type: [ApiScopeEnum], resolve: (key) => key.scopes }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'Updated at most once a minute.' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    createdBy: t.field({ type: UserRef, nullable: true, resolve: (key) => key.createdBy?.id ?? null }),
    replacedBy: t.field({ type: ApiKeyRef, nullable: true, resolve: (key) => key.replacedBy?.id ?? null }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<CreatedApiKey>('CreatedApiKey').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (created) => created.apiKey }),
    secret: t.exposeString('secret', { description: 'The whole key, shown this once. Store it now.' }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true, ...displayText('name') }),
    scopes: t.field({ type: [ApiScopeEnum], required: true }),
    expiresAt: t.field({
      type: 'DateTime',
      required: false,
      description:
        "Omit for the tenant's default lifetime; null for a key that never expires (OWNER only). Others may set at most `apiKeyDefaultTtlDays` from now. A key creating a key: at most its own end (and its parents'), which is also the default (BAD_USER_INPUT, reason OUTLIVES_PARENT).",
    }),
  }),
});

builder.objectField(TenantRef, 'apiKeys', (t) =>
  t.connection({
    type: ApiKeyRef,
    authScopes: { permission: 'apiKey:manage' },
    resolve: async (_tenant, args, ctx) => toConnection(await ctx.services.apiKeys.list(args)),
  }),
);

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyRef,
    authScopes: { permission: 'apiKey:manage' },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.apiKeys.create({
        name: input.name,
        scopes: input.scopes,
        // Omitted: the tenant's default; null: never expires.
        expiresAt: changeOf(input.expiresAt),
      }),
  }),
  rotateApiKey: t.field({
    type: CreatedApiKeyRef,
    description:
      'Issues a successor; the old key keeps working for `gracePeriodSeconds`, and so do the keys it minted, no longer. Rotated by a key, the successor ends no later than that key.',
    authScopes: { permission: 'apiKey:manage' },
    args: {
      id: t.arg.globalID({ required: true, for: [ApiKeyRef] }),
      gracePeriodSeconds: t.arg.int({ required: true, defaultValue: 0 }),
    },
    resolve: (_root, { id, gracePeriodSeconds }, ctx) => ctx.services.apiKeys.rotate(id.id, gracePeriodSeconds),
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description: 'Stops the key at once.',
    authScopes: { permission: 'apiKey:manage' },
    args: { id: t.arg.globalID({ required: true, for: [ApiKeyRef] }) },
    resolve: (_root, { id }, ctx) => ctx.services.apiKeys.revoke(id.id),
  }),
}));
