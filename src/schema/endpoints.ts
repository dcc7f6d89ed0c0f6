/** Endpoints: a model over datasets behind a slug, what consumers query. */
import { minScoreOf, type Endpoint } from '../domains/endpoints/endpoint.entity.js';
import { healthOf } from '../domains/model-health/health-rules.js';
import { RETRIEVAL_ENGINES, RETRIEVAL_MODES, type RetrievalMode } from '../domains/endpoints/retrieval-mode.js';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import { DatasetRef } from './datasets.js';
import { HealthRef, ModelRef } from './models.js';
import { toConnection } from './pagination.js';
import { bounded } from './string-bounds.js';
import { changeOf } from './update-fields.js';

export const EndpointRef = builder.loadableNodeRef('Endpoint', {
  id: { resolve: (endpoint: Endpoint) => endpoint.id },
  load: (ids: string[], ctx) => ctx.services.endpoints.byIds(ids),
});

export const RetrievalModeEnum = builder.enumType('RetrievalMode', {
  description: 'KEYWORD: full-text ranking. SEMANTIC: embedding similarity. HYBRID: both, fused by reciprocal rank (docs/endpoints.md#retrieval-modes).',
  values: RETRIEVAL_MODES,
});

const RetrievalEngineEnum = builder.enumType('RetrievalEngine', {
  description:
    'What serves an endpoint’s retrieval now: KEYWORD_BM25; VECTOR_HNSW (pgvector’s HNSW index) or VECTOR_EXACT (every vector compared); HYBRID_BM25_HNSW or HYBRID_BM25_EXACT; VECTOR_NONE (SEMANTIC with no vectors yet: it finds nothing); HYBRID_BM25_ONLY (HYBRID ranking by keyword alone: no vectors yet, or its embeddings model DOWN) (docs/endpoints.md#engines).',
  values: RETRIEVAL_ENGINES,
});

const RetrievalRef = builder.objectRef<Endpoint>('RetrievalSettings').implement({
  fields: (t) => ({
    mode: t.field({ type: RetrievalModeEnum, resolve: (endpoint) => endpoint.retrievalMode as RetrievalMode }),
    engine: t.field({
      type: RetrievalEngineEnum,
      description: 'Follows from the mode, the server (pgvector or not), the datasets’ embeddings and their embeddings models’ health.',
      resolve: (endpoint, _args, ctx) => ctx.services.endpoints.engine(endpoint),
    }),
    topK: t.exposeInt('topK', { description: 'Passages retrieved per query (1–50).' }),
    minScore: t.float({
      nullable: true,
      description: 'Passages scoring below this are dropped: on the score the mode gives (BM25 score, cosine similarity, or the fused score).',
      resolve: (endpoint) => minScoreOf(endpoint),
    }),
    passagesPerDocument: t.int({
      nullable: true,
      description: 'At most this many passages of one document per answer (its best), the next documents filling topK; null: no limit (docs/endpoints.md#passages-per-document).',
      resolve: (endpoint) => endpoint.passagesPerDocument ?? null,
    }),
  }),
});

EndpointRef.implement({
  description: 'A model over one or more datasets, queried as `tenantSlug/slug`.',
  authScopes: (endpoint) => ({ $all: { tenant: endpoint.tenant.id, permission: 'tenant:read' } }),
  fields: (t) => ({
    name: t.exposeString('name'),
    slug: t.exposeString('slug', { description: 'Unique within the tenant: 3 to 64 of a-z, 0-9 and -.' }),
    reference: t.string({
      description: 'What `queryEndpoint` takes: "tenantSlug/slug".',
      resolve: (endpoint, _args, ctx) => `${ctx.actor.kind === 'anonymous' ? '' : ctx.actor.tenantSlug}/${endpoint.slug}`,
    }),
    description: t.exposeString('description', { nullable: true }),
    published: t.exposeBoolean('published', {
      description: 'Unpublished: only members of this tenant may query it. Published: authenticated callers of other tenants too.',
    }),
    listed: t.exposeBoolean('listed', {
      description: 'Shown in the catalog (`catalog`, GET /api/v1/endpoints) to any caller. Only a published endpoint can be listed; unpublishing unlists it. Unlisted: reached by address only.',
    }),
    allowAnonymous: t.exposeBoolean('allowAnonymous', {
      description: 'Published and this: callers with no credential may query it too, under a per-address limit and the endpoint’s policies (docs/endpoints.md#who-may-ask).',
    }),
    model: t.field({ type: ModelRef, resolve: (endpoint) => endpoint.model.id }),
    datasets: t.field({
      type: [DatasetRef],
      description: 'Its datasets that still exist.',
      resolve: async (endpoint, _args, ctx) => (await ctx.services.datasets.byIds(endpoint.datasetIds)).filter((dataset) => dataset !== null),
    }),
    retrieval: t.field({ type: RetrievalRef, resolve: (endpoint) => endpoint }),
    health: t.field({
      type: HealthRef,
      nullable: true,
      description: 'The worst of its models’ health (the chat model, and the embeddings models SEMANTIC or HYBRID retrieval needs) at the last check; null before the first. Only published endpoints are checked.',
      resolve: (endpoint) => healthOf(endpoint),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const RetrievalInput = builder.inputType('RetrievalInput', {
  fields: (t) => ({
    mode: t.field({
      type: RetrievalModeEnum,
      required: false,
      description: 'Default KEYWORD. SEMANTIC and HYBRID need an embedding model on every dataset (BAD_USER_INPUT NO_EMBEDDING_MODEL).',
    }),
    topK: t.int({ required: false, description: 'Default 5, at most 50.' }),
    minScore: t.float({
      required: false,
      description:
        'Within the mode’s scores: KEYWORD at least 0, SEMANTIC −1 to 1, HYBRID 0 to 2/61; null: none. A mode changed without it checks the kept one (BAD_USER_INPUT MIN_SCORE_OUT_OF_RANGE).',
    }),
    passagesPerDocument: t.int({ required: false, description: '1 to 50: at most this many passages of one document per answer; null: no limit (the default). Omitted on update: unchanged.' }),
  }),
});

const CreateEndpointInput = builder.inputType('CreateEndpointInput', {
  fields: (t) => ({
    name: t.string({ required: true, ...displayText('name') }),
    slug: t.string({ required: true, ...bounded('slug') }),
    description: t.string({ required: false, ...displayText('description', 'text') }),
    datasetIds: t.globalIDList({ required: true, for: [DatasetRef] }),
    modelId: t.globalID({ required: true, for: [ModelRef] }),
    published: t.boolean({ required: false, description: 'Default false.' }),
    listed: t.boolean({ required: false, description: 'Default false. Needs published (BAD_USER_INPUT NOT_PUBLISHED otherwise).' }),
    allowAnonymous: t.boolean({ required: false, description: 'Default false. Takes effect while the endpoint is published.' }),
    retrieval: t.field({ type: RetrievalInput, required: false }),
  }),
});

const UpdateEndpointInput = builder.inputType('UpdateEndpointInput', {
  fields: (t) => ({
    name: t.string({ required: false, ...displayText('name') }),
    slug: t.string({ required: false, ...bounded('slug') }),
    description: t.string({ required: false, ...displayText('description', 'text'), description: 'null or empty clears it.' }),
    datasetIds: t.globalIDList({ required: false, for: [DatasetRef] }),
    modelId: t.globalID({ required: false, for: [ModelRef] }),
    published: t.boolean({ required: false, description: 'false also unlists the endpoint.' }),
    listed: t.boolean({ required: false, description: 'Needs the endpoint published (BAD_USER_INPUT NOT_PUBLISHED otherwise).' }),
    allowAnonymous: t.boolean({ required: false }),
    retrieval: t.field({ type: RetrievalInput, required: false }),
  }),
});

const DeletedEndpointRef = builder.objectRef<{ id: string }>('DeletedEndpoint').implement({
  fields: (t) => ({ id: t.globalID({ resolve: (deleted) => ({ type: 'Endpoint', id: deleted.id }) }) }),
});

builder.queryFields((t) => ({
  endpoints: t.connection({
    type: EndpointRef,
    authScopes: { permission: 'tenant:read' },
    resolve: async (_root, args, ctx) => toConnection(await ctx.services.endpoints.list(args)),
  }),
  endpoint: t.field({
    type: EndpointRef,
    nullable: true,
    description: 'One of your tenant’s endpoints, by slug.',
    authScopes: { permission: 'tenant:read' },
    args: { slug: t.arg.string({ required: true, ...bounded('slug') }) },
    resolve: (_root, { slug }, ctx) => ctx.services.endpoints.bySlug(slug),
  }),
}));

builder.mutationFields((t) => ({
  createEndpoint: t.field({
    type: EndpointRef,
    authScopes: { permission: 'endpoint:manage' },
    args: { input: t.arg({ type: CreateEndpointInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.endpoints.create({ ...input, modelId: input.modelId.id, datasetIds: input.datasetIds.map((id) => id.id) }),
  }),
  updateEndpoint: t.field({
    type: EndpointRef,
    authScopes: { permission: 'endpoint:manage' },
    args: { id: t.arg.globalID({ required: true, for: [EndpointRef] }), input: t.arg({ type: UpdateEndpointInput, required: true }) },
    resolve: (_root, { id, input }, ctx) =>
      ctx.services.endpoints.update(id.id, {
        ...input,
        description: changeOf(input.description),
        modelId: input.modelId?.id,
        datasetIds: input.datasetIds?.map((dataset) => dataset.id),
      }),
  }),
  deleteEndpoint: t.field({
    type: DeletedEndpointRef,
    description: 'Deletes the endpoint; its usage records stay.',
    authScopes: { permission: 'endpoint:manage' },
    args: { id: t.arg.globalID({ required: true, for: [EndpointRef] }) },
    resolve: async (_root, { id }, ctx) => ({ id: await ctx.services.endpoints.delete(id.id) }),
  }),
}));
