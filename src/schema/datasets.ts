/** Datasets: a tenant's collections of documents. */
import type { DatasetEmbeddingState } from '../domains/datasets/dataset-embedding.js';
import type { DatasetSettings } from '../domains/datasets/dataset-feed.js';
import type { DatasetView } from '../domains/datasets/dataset.service.js';
import type { DocumentRow, RemovedDocument } from '../domains/datasets/document.service.js';
import { TEXT_SEARCH_LANGUAGES } from '../domains/datasets/languages.js';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import { ModelRef } from './models.js';
import { toConnection } from './pagination.js';
import { bounded } from './string-bounds.js';
import { changeOf } from './update-fields.js';

export const DocumentRef = builder.loadableNodeRef('Document', {
  id: { resolve: (document: DocumentRow) => document.id },
  load: (ids: string[], ctx) => ctx.services.documents.byIds(ids),
});

export const DatasetRef = builder.loadableNodeRef('Dataset', {
  id: { resolve: (dataset: DatasetView) => dataset.id },
  load: (ids: string[], ctx) => ctx.services.datasets.byIds(ids),
});

const DatasetEmbeddingRef = builder.objectRef<DatasetEmbeddingState>('DatasetEmbedding').implement({
  description:
    'How far the chunks are embedded. Semantic queries use `servingModel`, set once every chunk has a vector by it; ' +
    'after a change of `model` they go on using the old one until the re-embed job covers every chunk.',
  fields: (t) => ({
    model: t.field({ type: ModelRef, nullable: true, description: 'What new chunks are embedded with; null: keyword search only.', resolve: (state) => state.modelId }),
    servingModel: t.field({ type: ModelRef, nullable: true, description: 'Whose vectors answer semantic queries; null until one covers every chunk.', resolve: (state) => state.servingModelId }),
    embeddedChunks: t.exposeInt('embeddedChunks', { description: 'Chunks with a vector by `model`.' }),
    totalChunks: t.exposeInt('totalChunks'),
    inProgress: t.exposeBoolean('inProgress', {
      description:
        'A job of the dataset (an ingestion or a re-embed) is queued or running, so the counts may still move. False while chunks lack a vector ' +
        '(or `servingModel` is not `model`): the embedding stopped, its job failed or was cancelled; `reembedDataset` embeds the chunks left.',
    }),
  }),
});

DatasetRef.implement({
  description: 'A collection of documents, parsed, chunked and indexed for search.',
  authScopes: (dataset) => ({ $all: { tenant: dataset.tenant.id, permission: 'tenant:read' } }),
  fields: (t) => ({
    name: t.exposeString('name'),
    slug: t.exposeString('slug', { description: 'Unique within the tenant: 3 to 64 of a-z, 0-9 and -.' }),
    description: t.exposeString('description', { nullable: true }),
    language: t.exposeString('language', { description: 'The PostgreSQL text-search configuration its chunks are indexed with.' }),
    documentCount: t.exposeInt('documentCount'),
    chunkCount: t.exposeInt('chunkCount'),
    bytes: t.exposeInt('byteCount', { description: 'UTF-8 bytes of the parsed text of its documents.' }),
    lastIngestedAt: t.expose('lastIngestedAt', { type: 'DateTime', nullable: true }),
    documentRetentionHours: t.exposeInt('documentRetentionHours', {
      nullable: true,
      description: "Hours a document is kept after it was last ingested, then removed with its chunks; null: the tenant's documentRetentionHours.",
    }),
    embedding: t.loadable({
      type: DatasetEmbeddingRef,
      nullable: true,
      description: 'Its embedding model and progress; null for a keyword-only dataset. Many datasets cost one query.',
      load: (ids: string[], ctx) => ctx.services.datasets.embeddingStates(ids),
      resolve: (dataset) => dataset.id,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    documents: t.connection({
      type: DocumentRef,
      description: 'Its documents, oldest first; those of one upload in the order they were sent. A page for each of many datasets costs one query.',
      args: { titleContains: t.arg.string({ required: false, description: 'Only documents whose title contains this (case-insensitive, at most 200 characters).', ...bounded('search') }) },
      resolve: async (dataset, args, ctx) => toConnection(await ctx.services.documents.page(dataset.id, args)),
    }),
  }),
});

DocumentRef.implement({
  description: 'One ingested document: a file, an inline text, a JSON Lines record or a CSV row.',
  authScopes: (document) => ({ $all: { tenant: document.tenantId, permission: 'tenant:read' } }),
  fields: (t) => ({
    title: t.exposeString('title'),
    sourceKey: t.exposeString('sourceKey', { description: 'What names it within its dataset (re-ingesting the same key replaces or keeps it).' }),
    mimeType: t.exposeString('mimeType'),
    bytes: t.exposeInt('byteCount', { description: 'UTF-8 bytes of its parsed text.' }),
    chunkCount: t.exposeInt('chunkCount'),
    metadata: t.field({ type: 'JSONObject', resolve: (document) => document.metadata ?? {} }),
    dataset: t.field({ type: DatasetRef, resolve: (document) => document.datasetId }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const CreateDatasetInput = builder.inputType('CreateDatasetInput', {
  fields: (t) => ({
    name: t.string({ required: true, ...displayText('name') }),
    slug: t.string({ required: true, ...bounded('slug') }),
    description: t.string({ required: false, ...displayText('description', 'text') }),
    language: t.string({ required: false, description: `Default english. One of: ${TEXT_SEARCH_LANGUAGES.join(', ')}.`, ...bounded('keyword') }),
    embeddingModelId: t.globalID({
      required: false,
      for: [ModelRef],
      description: 'An embeddings model to embed its chunks with (semantic search); omitted: keyword search only.',
    }),
    documentRetentionHours: t.int({ required: false, description: "1 to 87600 hours a document is kept after it was last ingested; omitted or null: the tenant's default." }),
  }),
});

const UpdateDatasetInput = builder.inputType('UpdateDatasetInput', {
  fields: (t) => ({
    name: t.string({ required: false, ...displayText('name') }),
    slug: t.string({ required: false, ...bounded('slug') }),
    description: t.string({ required: false, ...displayText('description', 'text'), description: 'null or empty clears it.' }),
    embeddingModelId: t.globalID({
      required: false,
      for: [ModelRef],
      description: 'Another embeddings model starts a re-embed job (queries keep the current vectors until it completes); null: keyword search only, its vectors are deleted.',
    }),
    documentRetentionHours: t.int({ required: false, description: "1 to 87600 hours a document is kept after it was last ingested; null: the tenant's default." }),
  }),
});

builder.queryFields((t) => ({
  datasets: t.connection({
    type: DatasetRef,
    authScopes: { permission: 'tenant:read' },
    args: { nameContains: t.arg.string({ required: false, description: 'Case-insensitive part of the name.', ...bounded('search') }) },
    resolve: async (_root, args, ctx) => toConnection(await ctx.services.datasets.list(args)),
  }),
  dataset: t.field({
    type: DatasetRef,
    nullable: true,
    description: 'By id or by slug.',
    authScopes: { permission: 'tenant:read' },
    args: { id: t.arg.globalID({ required: false, for: [DatasetRef] }), slug: t.arg.string({ required: false, ...bounded('slug') }) },
    resolve: async (_root, { id, slug }, ctx) => {
      if (id) return (await ctx.services.datasets.byIds([id.id]))[0] ?? null;
      return slug ? ctx.services.datasets.bySlug(slug) : null;
    },
  }),
}));

const DeletedDatasetRef = builder.objectRef<{ id: string }>('DeletedDataset').implement({
  fields: (t) => ({ id: t.globalID({ resolve: (deleted) => ({ type: 'Dataset', id: deleted.id }) }) }),
});

const DeletedDocumentRef = builder.objectRef<RemovedDocument>('DeletedDocument').implement({
  fields: (t) => ({
    id: t.globalID({ resolve: (deleted) => ({ type: 'Document', id: deleted.id }) }),
    dataset: t.field({ type: DatasetRef, nullable: true, description: 'The dataset it was in.', resolve: (deleted) => deleted.datasetId }),
    sourceKey: t.exposeString('sourceKey'),
    chunkCount: t.exposeInt('chunkCount', { description: 'Chunks removed with it.' }),
  }),
});

builder.mutationFields((t) => ({
  createDataset: t.field({
    type: DatasetRef,
    authScopes: { permission: 'data:write' },
    args: { input: t.arg({ type: CreateDatasetInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.datasets.create({ ...input, embeddingModelId: input.embeddingModelId?.id }),
  }),
  updateDataset: t.field({
    type: DatasetRef,
    authScopes: { permission: 'data:write' },
    args: { id: t.arg.globalID({ required: true, for: [DatasetRef] }), input: t.arg({ type: UpdateDatasetInput, required: true }) },
    resolve: (_root, { id, input }, ctx) =>
      ctx.services.datasets.update(id.id, {
        ...input,
        description: changeOf(input.description),
        embeddingModelId: changeOf(input.embeddingModelId, (model) => model.id),
      }),
  }),
  deleteDataset: t.field({
    type: DeletedDatasetRef,
    description: 'Deletes the dataset with its documents, chunks and ingestion jobs. A running job stops.',
    authScopes: { permission: 'data:write' },
    args: { id: t.arg.globalID({ required: true, for: [DatasetRef] }) },
    resolve: async (_root, { id }, ctx) => ({ id: await ctx.services.datasets.delete(id.id) }),
  }),
  deleteDocument: t.field({
    type: DeletedDocumentRef,
    description: 'Deletes one document with its chunks and embeddings; search statistics and the dataset’s counts follow at once.',
    authScopes: { permission: 'data:write' },
    args: { id: t.arg.globalID({ required: true, for: [DocumentRef] }) },
    resolve: (_root, { id }, ctx) => ctx.services.documents.delete(id.id),
  }),
}));

/**
 * Read once per change in a short transaction of its own and sent whole: its fields read
 * nothing more (a node's loaders would cache across events, and an event resolves outside any
 * transaction), so the model is named by id.
 */
const DatasetSettingsRef = builder.objectRef<DatasetSettings>('DatasetSettings').implement({
  description: 'A dataset’s own settings as they stand (its counts move with every job: follow `datasetIngestion` for those).',
  authScopes: (settings) => ({ $all: { tenant: settings.tenantId, permission: 'tenant:read' } }),
  fields: (t) => ({
    datasetId: t.globalID({ description: "The dataset's global id.", resolve: (settings) => ({ type: 'Dataset', id: settings.id }) }),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    description: t.exposeString('description', { nullable: true }),
    language: t.exposeString('language'),
    documentRetentionHours: t.exposeInt('documentRetentionHours', { nullable: true }),
    embeddingModelId: t.globalID({
      nullable: true,
      description: "The embeddings model's global id (`Dataset.embedding.model`); null: keyword search only.",
      resolve: (settings) => (settings.embeddingModelId ? { type: 'Model', id: settings.embeddingModelId } : null),
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.subscriptionFields((t) => ({
  datasetChanges: t.field({
    type: DatasetSettingsRef,
    description:
      'The dataset’s settings now, then after each change made anywhere (the API, the CLI, another tab): renamed, its embeddings model set or cleared, ...; completes when the dataset is deleted.',
    authScopes: { permission: 'tenant:read' },
    args: { datasetId: t.arg.globalID({ required: true, for: [DatasetRef] }) },
    // A plain async function: refusing here ends this operation only, not the whole socket.
    subscribe: (_root, { datasetId }, ctx) => ctx.services.datasets.follow(datasetId.id),
    resolve: (settings) => settings,
  }),
}));
