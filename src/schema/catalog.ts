/**
 * The catalog: listed endpoints of every tenant, open to any caller, anonymous ones included
 * (domains/endpoints/catalog.service.ts). Its types carry only what the catalog function
 * returns, which is public by design, so they have no tenant scope: nothing here is an
 * `Endpoint` node or reaches one.
 */
import type { CatalogEntry } from '../domains/endpoints/catalog.service.js';
import { RATE_LIMIT_SOURCES, RATE_LIMIT_SUBJECTS, type CatalogRateLimit } from '../domains/endpoints/catalog-limits.js';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { RetrievalModeEnum } from './endpoints.js';
import { HealthRef } from './models.js';
import { toConnection } from './pagination.js';
import { bounded } from './string-bounds.js';

const RateLimitSubjectEnum = builder.enumType('RateLimitSubject', {
  description: 'Who shares one allowance: each client ADDRESS, each CALLER (user, API key or identity), each CALLER_TENANT, or EVERYONE together.',
  values: RATE_LIMIT_SUBJECTS,
});

const RateLimitSourceEnum = builder.enumType('RateLimitSource', {
  description: "Where a limit is set: the SERVER's settings, the caller's tenant's TENANT_SETTINGS (updateTenantSettings), or an ENDPOINT_POLICY (rate_limit).",
  values: RATE_LIMIT_SOURCES,
});

const CatalogRateLimitRef = builder.objectRef<CatalogRateLimit>('CatalogRateLimit').implement({
  description: 'A rate limit a consumer of the endpoint meets: at most `requests` per `periodSeconds`, shared `per` this.',
  fields: (t) => ({
    per: t.field({ type: RateLimitSubjectEnum, resolve: (limit) => limit.per }),
    source: t.field({ type: RateLimitSourceEnum, resolve: (limit) => limit.source }),
    requests: t.exposeInt('requests'),
    periodSeconds: t.exposeInt('periodSeconds'),
    burst: t.exposeInt('burst', { nullable: true, description: 'Most requests at once (token buckets); null for a sliding window (policies).' }),
    rule: t.exposeString('rule', { description: 'As people read it: "5 per 60 s per caller".' }),
  }),
});

const CatalogAccessRef = builder.objectRef<CatalogEntry['access']>('CatalogAccess').implement({
  description: 'What a consumer must satisfy to ask the endpoint.',
  fields: (t) => ({
    credentialRequired: t.exposeBoolean('credentialRequired', { description: 'A bearer token or API key is needed (false: anonymous callers may ask).' }),
    rateLimits: t.field({
      type: [CatalogRateLimitRef],
      description: "The server's limits (per address; per caller: your tenant's own setting where it has one) and the endpoint's rate_limit policies.",
      resolve: (access) => access.rateLimits,
    }),
  }),
});

const CatalogTenantRef = builder.objectRef<CatalogEntry['tenant']>('CatalogTenant').implement({
  description: 'The tenant that publishes the endpoint.',
  fields: (t) => ({ slug: t.exposeString('slug'), name: t.exposeString('name') }),
});

const CatalogDatasetsRef = builder.objectRef<CatalogEntry['datasets']>('CatalogDatasets').implement({
  description: "What the endpoint's datasets hold, summed over them.",
  fields: (t) => ({
    documentCount: t.exposeInt('documentCount'),
    chunkCount: t.field({ type: 'SafeInt', resolve: (datasets) => datasets.chunkCount }),
    lastIngestedAt: t.expose('lastIngestedAt', { type: 'DateTime', nullable: true, description: 'The latest ingestion into any of them; null: none yet.' }),
  }),
});

const CatalogEntryRef = builder.objectRef<CatalogEntry>('CatalogEntry').implement({
  description: 'A listed endpoint, as any caller may see it.',
  fields: (t) => ({
    address: t.exposeString('address', { description: 'What queries name: "tenantSlug/endpointSlug" (queryEndpoint, REST, OpenAI `model`, MCP).' }),
    tenant: t.field({ type: CatalogTenantRef, resolve: (entry) => entry.tenant }),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    datasets: t.field({ type: CatalogDatasetsRef, resolve: (entry) => entry.datasets }),
    modelKind: t.exposeString('modelKind', { description: 'The model’s type (`extractive`, `openai-compatible`…); never its name, URL or key.' }),
    retrievalMode: t.field({ type: RetrievalModeEnum, resolve: (entry) => entry.retrievalMode }),
    access: t.field({ type: CatalogAccessRef, resolve: (entry) => entry.access }),
    health: t.field({
      type: HealthRef,
      nullable: true,
      description: 'The worst of its models’ health at the last check (docs/endpoints.md#health); null before the first.',
      resolve: (entry) => entry.health,
    }),
  }),
});

const CatalogConnectionRef = builder.connectionObject({ type: CatalogEntryRef, name: 'CatalogConnection' }, { name: 'CatalogEdge' });

builder.queryFields((t) => ({
  catalog: t.field({
    type: CatalogConnectionRef,
    description:
      'Listed endpoints of every tenant, ordered by tenant slug then endpoint slug; open to any caller, with or without a credential. `search` matches name, description, tenant and address as plain text, case-insensitive.',
    args: {
      search: t.arg.string({ required: false, description: 'Plain text (no wildcards), at most 200 characters.', ...bounded('search', 'text') }),
      first: t.arg.int({ required: false, description: 'Default 20, at most 100.' }),
      after: t.arg.string({ required: false, ...bounded('cursor') }),
    },
    resolve: async (_root, args, ctx) => toConnection(await ctx.services.catalog.browse(args)),
  }),
}));
