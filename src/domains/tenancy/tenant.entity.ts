import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { Membership } from './membership.entity.js';

/** The tenancy root. Not tenant-owned itself: it is the tenant. */
export const Tenant = defineEntity({
  name: 'Tenant',
  tableName: 'tenants',
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => randomUUID()),
    slug: p.string().length(64).unique(),
    name: p.string().length(255),
    /** Days until a new API key expires unless its creator says otherwise. */
    apiKeyDefaultTtlDays: p.integer().default(90),
    /** Per-principal request rate override (requests per second); null: the server default. */
    rateLimitPerSecond: p.integer().nullable(),
    /** Per-principal burst override (bucket size); null: the server default. */
    rateLimitBurst: p.integer().nullable(),
    /** false: audit events keep a keyed digest of the actor's email instead of the address. */
    auditStoreEmails: p.boolean().default(true),
    /** Days audit events are kept. */
    auditRetentionDays: p.integer().default(90),
    /** Days usage records and policy decisions are kept. */
    usageRetentionDays: p.integer().default(400),
    /** Hours a document is kept after it was last ingested, in datasets that set none; null: kept until deleted. */
    documentRetentionHours: p.integer().nullable(),
    /** Addresses (CIDR) the tenant's credentials may call from; null: anywhere. */
    ipAllowList: p.array<string>().columnType('text[]').nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    memberships: () => p.oneToMany(Membership).mappedBy('tenant'),
  }),
});

export type Tenant = InferEntity<typeof Tenant>;
