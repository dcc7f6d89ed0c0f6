/** Models: what endpoints answer with. The API key goes in and never comes out. */
import { healthOf, type Health } from '../domains/model-health/health-rules.js';
import type { ModelTestResult } from '../domains/model-health/model-test.js';
import type { Model } from '../domains/models/model.entity.js';
import { MODEL_CONFIG_MARKS, modelKind } from '../domains/models/model.service.js';
import { modelTypes, type ModelKind } from '../domains/models/provider.js';
import { audited } from './audit-marks.js';
import { builder } from './builder.js';
import { displayText } from './display-text.js';
import { toConnection } from './pagination.js';
import { bounded } from './string-bounds.js';
import { changeOf } from './update-fields.js';

export const ModelRef = builder.loadableNodeRef('Model', {
  id: { resolve: (model: Model) => model.id },
  load: (ids: string[], ctx) => ctx.services.models.byIds(ids),
});

const ModelKindRef = builder.enumType('ModelKind', {
  description: 'What a model is for.',
  values: {
    CHAT: { value: 'chat', description: 'Answers questions from passages: what an endpoint answers with.' },
    EMBEDDINGS: { value: 'embeddings', description: 'Turns text into vectors; cannot answer an endpoint.' },
  } as const,
});

const HealthStatusRef = builder.enumType('HealthStatus', {
  description: 'What the health checks found (docs/endpoints.md#health).',
  values: {
    HEALTHY: { description: 'The last check answered in time, and none of the recent ones (SLUICE_HEALTH_WINDOW) failed.' },
    DEGRADED: { description: 'It answers, but slowly (over SLUICE_HEALTH_SLOW_MS), or some recent checks failed.' },
    DOWN: { description: 'The last checks (SLUICE_HEALTH_DOWN_AFTER in a row) failed: queries that need it are refused at once with MODEL_UNAVAILABLE.' },
  } as const,
});

/** A model's or an endpoint's health, as the worker's checks last found it. */
export const HealthRef = builder.objectRef<Health>('Health').implement({
  description: 'What the last health check found. Checks run every SLUICE_HEALTH_INTERVAL_S seconds on the models of published endpoints.',
  fields: (t) => ({
    status: t.field({ type: HealthStatusRef, resolve: (health) => health.status }),
    lastCheckedAt: t.expose('lastCheckedAt', { type: 'DateTime' }),
    latencyMs: t.exposeInt('latencyMs', { nullable: true, description: 'How long the last check took; null when it failed.' }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'Why the last failed check failed (redacted); null when healthy.' }),
  }),
});

ModelRef.implement({
  description: 'A model type with its configuration; endpoints answer with it.',
  authScopes: (model) => ({ $all: { tenant: model.tenant.id, permission: 'tenant:read' } }),
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type', { description: 'A registered model type (see `modelTypes`).' }),
    kind: t.field({ type: ModelKindRef, resolve: (model): ModelKind => modelKind(model), description: 'Chat (answers) or embeddings, from its type.' }),
    config: t.field({
      type: 'JSONObject',
      nullable: true,
      description: 'The validated, non-secret configuration (base URL, model, system prompt…). ADMIN (`config:read`): others get FORBIDDEN.',
      authScopes: { permission: 'config:read' },
      resolve: (model) => model.config,
    }),
    apiKeySet: t.boolean({ resolve: (model) => model.apiKeyKeyId !== null, description: 'Whether an API key is stored (sealed; never returned).' }),
    apiKeyLast4: t.string({
      nullable: true,
      description: 'The last four characters of the stored key; null for a key under 16 characters (it would show too much of it). ADMIN (`config:read`): others get FORBIDDEN.',
      authScopes: { permission: 'config:read' },
      resolve: (model) => model.apiKeyLast4,
    }),
    promptMicrosPer1k: t.exposeInt('promptMicrosPer1k', { description: 'Cost of 1 000 prompt tokens, in micro-units.' }),
    completionMicrosPer1k: t.exposeInt('completionMicrosPer1k', { description: 'Cost of 1 000 completion tokens, in micro-units.' }),
    health: t.field({
      type: HealthRef,
      nullable: true,
      description: 'Null until a published endpoint’s checks have reached it, and again after its configuration or key changes.',
      resolve: (model) => healthOf(model),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const ModelTypeRef = builder.objectRef<{ name: string; description: string; acceptsApiKey: boolean; kind: ModelKind }>('ModelType').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.field({ type: ModelKindRef, resolve: (type) => type.kind }),
    description: t.exposeString('description'),
    acceptsApiKey: t.exposeBoolean('acceptsApiKey'),
  }),
});

const CreateModelInput = builder.inputType('CreateModelInput', {
  fields: (t) => ({
    name: t.string({ required: true, ...displayText('name'), description: 'Unique within the tenant.' }),
    type: t.string({ required: true, description: 'extractive (built in), openai-compatible (chat) or openai-compatible-embeddings.', ...bounded('keyword') }),
    config: t.field({
      type: 'JSONObject',
      required: false,
      description:
        'extractive: {maxSentences}. openai-compatible: {baseUrl, model, temperature?, maxTokens?, systemPrompt?}. ' +
        'openai-compatible-embeddings: {baseUrl, model, dimensions?, batchSize?}.',
      ...audited.members(MODEL_CONFIG_MARKS),
    }),
    apiKey: t.string({ required: false, description: 'Stored encrypted (AES-256-GCM); never returned.', ...bounded('secret', 'secret') }),
    promptMicrosPer1k: t.int({ required: false }),
    completionMicrosPer1k: t.int({ required: false }),
  }),
});

const UpdateModelInput = builder.inputType('UpdateModelInput', {
  fields: (t) => ({
    name: t.string({ required: false, ...displayText('name') }),
    config: t.field({ type: 'JSONObject', required: false, description: 'Replaces the configuration.', ...audited.members(MODEL_CONFIG_MARKS) }),
    apiKey: t.string({ required: false, description: 'A new key; null or "" removes it; omit to keep it. Required when config.baseUrl moves to another origin (scheme, host, port): a key goes only to the server it was given for.', ...bounded('secret', 'secret') }),
    promptMicrosPer1k: t.int({ required: false }),
    completionMicrosPer1k: t.int({ required: false }),
  }),
});

const ModelTestResultRef = builder.objectRef<ModelTestResult>('ModelTestResult').implement({
  description: 'What one test of a model found. Not written into `Model.health`, which is the worker checks’ own.',
  fields: (t) => ({
    model: t.field({ type: ModelRef, resolve: (result) => result.model }),
    ok: t.exposeBoolean('ok', { description: 'The model server answered as the protocol says (a model that calls no server, such as extractive, always does).' }),
    latencyMs: t.exposeInt('latencyMs', { nullable: true, description: 'How long the test took; null when it failed.' }),
    error: t.exposeString('error', { nullable: true, description: 'Why it failed: the reason (TIMEOUT, NETWORK, HTTP_ERROR, BAD_RESPONSE, an egress refusal…) and message, redacted; null when it answered.' }),
    testedAt: t.expose('testedAt', { type: 'DateTime' }),
  }),
});

const DeletedModelRef = builder.objectRef<{ id: string }>('DeletedModel').implement({
  fields: (t) => ({ id: t.globalID({ resolve: (deleted) => ({ type: 'Model', id: deleted.id }) }) }),
});

builder.queryFields((t) => ({
  models: t.connection({
    type: ModelRef,
    description: 'Your tenant’s models, oldest first (chat and embeddings).',
    authScopes: { permission: 'tenant:read' },
    resolve: async (_root, args, ctx) => toConnection(await ctx.services.models.list(args)),
  }),
  modelTypes: t.field({
    type: [ModelTypeRef],
    authScopes: { authenticated: true },
    resolve: () => modelTypes(),
  }),
}));

builder.mutationFields((t) => ({
  createModel: t.field({
    type: ModelRef,
    authScopes: { permission: 'model:manage' },
    args: { input: t.arg({ type: CreateModelInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.models.create(input),
  }),
  updateModel: t.field({
    type: ModelRef,
    authScopes: { permission: 'model:manage' },
    args: { id: t.arg.globalID({ required: true, for: [ModelRef] }), input: t.arg({ type: UpdateModelInput, required: true }) },
    // Omitted keeps the key, null or "" removes it.
    resolve: (_root, { id, input }, ctx) => ctx.services.models.update(id.id, { ...input, apiKey: changeOf(input.apiKey) }),
  }),
  testModel: t.field({
    type: ModelTestResultRef,
    description:
      'Tests the model now: the cheapest real request (one token, or one word embedded) through its own client, egress guard and key, one attempt. ' +
      'A failing model is a result (ok false, with the reason), not an error. Audited as model.test.',
    authScopes: { permission: 'model:manage' },
    // The model server is called with no transaction open (domains/model-health/model-test.ts).
    extensions: { ownTransactions: true },
    args: { id: t.arg.globalID({ required: true, for: [ModelRef] }) },
    resolve: (_root, { id }, ctx) => ctx.services.modelTests.test(id.id),
  }),
  deleteModel: t.field({
    type: DeletedModelRef,
    description: 'Refused (CONFLICT, reason MODEL_IN_USE) while an endpoint uses it.',
    authScopes: { permission: 'model:manage' },
    args: { id: t.arg.globalID({ required: true, for: [ModelRef] }) },
    resolve: async (_root, { id }, ctx) => ({ id: await ctx.services.models.delete(id.id) }),
  }),
}));
