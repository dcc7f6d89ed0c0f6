import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { Tenant } from '../tenancy/tenant.entity.js';
import { User } from '../tenancy/user.entity.js';

/**
 * A signed-in session: one refresh-token family. Owned by a user, not a tenant (a session
 * moves between the user's tenants with switchTenant), so it is not tenant-filtered; only the
 * identity service reads it, always by the hash of a token the caller presented or by the
 * session id inside a verified access token.
 */
export const Session = defineEntity({
  name: 'Session',
  tableName: 'sessions',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => randomUUID()),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
    /** The tenant the session currently acts in. */
    activeTenant: () => p.manyToOne(Tenant).deleteRule('cascade').fieldName('active_tenant_id'),
    createdAt: p.datetime().onCreate(() => new Date()),
    /** Absolute end: refreshing never extends a session past this. */
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
    /** logout | reuse | membership (why the session ended early). */
    revokedReason: p.string().length(32).nullable(),
  }),
});
export type Session = InferEntity<typeof Session>;

/** One refresh token of a session: single use, stored as a SHA-256 hash. */
export const RefreshToken = defineEntity({
  name: 'RefreshToken',
  tableName: 'refresh_tokens',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => randomUUID()),
    session: () => p.manyToOne(Session).deleteRule('cascade').index(),
    tokenHash: p.string().length(64).unique(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    usedAt: p.datetime().nullable(),
    /** What used it up: `refresh` (traded for its successor) or `move` (acceptInvitation rotated the chain); null before 2026-12-07. */
    usedBy: p.string().length(16).nullable(),
  }),
});
export type RefreshToken = InferEntity<typeof RefreshToken>;
