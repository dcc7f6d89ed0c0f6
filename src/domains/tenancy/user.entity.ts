import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { Membership } from './membership.entity.js';

/** A person. Global (one account, many tenants); what they may see is decided per membership. */
export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => randomUUID()),
    /** Stored lower-cased; unique across the platform. */
    email: p.string().length(320).unique(),
    displayName: p.string().length(255).nullable(),
    /** argon2id (PHC string); null for a user who has not set a password. Never serialised. */
    passwordHash: p.string().length(255).nullable().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
    memberships: () => p.oneToMany(Membership).mappedBy('user'),
  }),
});

export type User = InferEntity<typeof User>;
