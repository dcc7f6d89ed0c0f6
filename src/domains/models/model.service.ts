/**
 * A tenant's models: validated against their registered type, the API key sealed at rest.
 * The key goes in and never comes out: clients see whether one is set and its last four
 * characters; only `clientFor` opens it, to call the provider.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { findByIds } from '../lookup.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { MemberMarks } from '../audit/marks.js';
import { auditChange } from '../audit/record.js';
import { validConfiguration } from '../configuration.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { validName } from '../fields.js';
import { assertCan } from '../access/permissions.js';
import type { ServiceContext } from '../service-context.js';
import { uniqueName } from '../unique-names.js';
import { Model } from './model.entity.js';
import { assertKeyFollowsDestination, openKey, sealKey } from './model-key.js';
import { lockedModel } from './model-lock.js';
import { modelType, modelTypes, type Embeddings, type ModelClient, type ModelKind, type ModelType, type ProviderSettings } from './provider.js';
import './providers/index.js';

export interface ModelInput {
  name: string;
  type: string;
  config?: Record<string, unknown> | null;
  /** Stored sealed; never returned. */
  apiKey?: string | null;
  promptMicrosPer1k?: number | null;
  completionMicrosPer1k?: number | null;
}

/** Omitted or null fields stay as they are, except `apiKey`: omitted keeps it, null removes it. */
export interface ModelChanges {
  name?: string | null;
  config?: Record<string, unknown> | null;
  apiKey?: string | null;
  promptMicrosPer1k?: number | null;
  completionMicrosPer1k?: number | null;
}

const MAX_API_KEY_CHARS = 4096;
/**
 * A key's last four characters are shown (`apiKeyLast4`, an event's `keyLast4`) only when they
 * are a small part of it: all of a 4-character key, or most of a short one, was shown to every
 * ADMIN and kept on the trail until 2026-12-07.
 */
export const MIN_KEY_CHARS_FOR_LAST4 = 16;
const NAME = uniqueName(Model, 'name', (name) => `A model named "${name}" already exists`);

/**
 * What the audit trail keeps of a model's `config` (marks.ts), in the operation's event and the
 * change's alike: the system prompt is free text (length and keyed digest); the rest as any
 * unmarked value (secret-named members omitted, strings redacted and cut).
 */
export const MODEL_CONFIG_MARKS = { systemPrompt: 'text' } as const satisfies MemberMarks;
const AUDIT_MARKS = { config: MODEL_CONFIG_MARKS } as const;

/**
 * The slugs of (up to five of) the endpoints that answer with a model and of the datasets that
 * embed with it. Endpoints and datasets know their model, models do not know them: the
 * composition (services.ts) supplies this.
 */
export type ModelUsers = (modelId: string) => Promise<{ endpoints: string[]; datasets: string[] }>;

export class ModelService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly usersOf: ModelUsers,
  ) {}

  async create(input: ModelInput): Promise<Model> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'model:manage');
    const type = typeNamed(input.type);
    await NAME.assertFree(em, validName(input.name));
    const model = em.create(Model, {
      // Set now, not at flush: the sealed key is bound to the row's id.
      id: randomUUID(),
      tenant: actor.tenantId,
      name: validName(input.name),
      type: type.name,
      config: validConfig(type, input.config ?? {}, this.ctx.deps.modelSettings),
      promptMicrosPer1k: validPrice(input.promptMicrosPer1k, 'promptMicrosPer1k'),
      completionMicrosPer1k: validPrice(input.completionMicrosPer1k, 'completionMicrosPer1k'),
      apiKeyCiphertext: null,
    });
    this.setApiKey(model, type, input.apiKey);
    await NAME.flush(em, model.name);
    auditChange(this.ctx, 'model.create', { type: 'Model', id: model.id }, null, shown(model), AUDIT_MARKS);
    return model;
  }

  async update(id: string, changes: ModelChanges): Promise<Model> {
    assertCan(this.ctx.actor, 'model:manage');
    const model = await this.get(id);
    const before = shown(model);
    const type = typeNamed(model.type);
    if (changes.name != null && changes.name.trim() !== model.name) {
      await NAME.assertFree(this.ctx.em, validName(changes.name), model.id);
      model.name = validName(changes.name);
    }
    if (changes.config != null) {
      const config = validConfig(type, changes.config, this.ctx.deps.modelSettings);
      assertKeyFollowsDestination(model, type.keyDestination(model.config), type.keyDestination(config), changes.apiKey !== undefined);
      if (type.kind === 'embeddings') await this.assertVectorsKept(model, config);
      model.config = config;
    }
    if (changes.promptMicrosPer1k != null) model.promptMicrosPer1k = validPrice(changes.promptMicrosPer1k, 'promptMicrosPer1k');
    if (changes.completionMicrosPer1k != null) model.completionMicrosPer1k = validPrice(changes.completionMicrosPer1k, 'completionMicrosPer1k');
    if (changes.apiKey !== undefined) this.setApiKey(model, type, changes.apiKey);
    // Another server or key is another model to check: its last health says nothing of it.
    if (changes.config != null || changes.apiKey !== undefined) forgetHealth(model);
    await NAME.flush(this.ctx.em, model.name);
    auditChange(this.ctx, 'model.update', { type: 'Model', id: model.id }, before, shown(model), AUDIT_MARKS);
    return model;
  }

  /**
   * An embeddings model's `model` and `dimensions` decide its vectors: changed under datasets
   * embedded with it, their stored vectors would no longer match their questions' (of another
   * model or length, a semantic search finds nothing) and nothing would re-embed them. Refused
   * while a dataset names it; a new model set as the datasets' embeddingModelId re-embeds them
   * as a job, their queries answered meanwhile. Its address, key, batch size may change.
   */
  private async assertVectorsKept(model: Model, config: Record<string, unknown>): Promise<void> {
    const settings = VECTOR_SETTINGS.filter((key) => !isDeepStrictEqual(model.config[key], config[key]));
    if (settings.length === 0) return;
    // Before asking: a dataset that picks the model meanwhile waits for this change (model-lock.ts).
    await lockedModel(this.ctx.em, model.id, 'no key update');
    const { datasets } = await this.usersOf(model.id);
    if (datasets.length === 0) return;
    const named = settings.map((key) => `config.${key}`).join(' and ');
    throw new ConflictError(
      `${named} of model "${model.name}" decide the vectors of datasets ${datasets.join(', ')}: create an embeddings model with the new settings and set it as their embeddingModelId (they are re-embedded while their queries go on)`,
      { reason: 'MODEL_IN_USE', field: 'config', settings, datasets },
    );
  }

  /** Refused while an endpoint answers with it or a dataset embeds with it (delete or repoint those first). */
  async delete(id: string): Promise<string> {
    assertCan(this.ctx.actor, 'model:manage');
    // Locked before asking who uses it: an endpoint or dataset that picks it meanwhile either
    // waits and finds it gone (NOT_FOUND) or committed first and is seen here (model-lock.ts).
    const model = await lockedModel(this.ctx.em, id, 'update');
    if (!model) throw new NotFoundError('Model');
    const { endpoints, datasets } = await this.usersOf(model.id);
    if (endpoints.length > 0 || datasets.length > 0) {
      const users = [endpoints.length > 0 ? `endpoints: ${endpoints.join(', ')}` : '', datasets.length > 0 ? `datasets: ${datasets.join(', ')}` : ''];
      throw new ConflictError(`Model is used by ${users.filter(Boolean).join('; ')}`, { reason: 'MODEL_IN_USE', endpoints, datasets });
    }
    await this.ctx.em.nativeDelete(Model, { id: model.id });
    this.ctx.em.getUnitOfWork().unsetIdentity(model);
    auditChange(this.ctx, 'model.delete', { type: 'Model', id: model.id }, shown(model), null, AUDIT_MARKS);
    return model.id;
  }

  async get(id: string): Promise<Model> {
    assertCan(this.ctx.actor, 'tenant:read');
    const model = await this.ctx.em.findOne(Model, { id });
    if (!model) throw new NotFoundError('Model');
    return model;
  }

  /** A page of the tenant's models, oldest first (the order every connection uses). */
  async list(request: PageRequest): Promise<Page<Model>> {
    assertCan(this.ctx.actor, 'tenant:read');
    return keysetPage(this.ctx.em, Model, {}, request);
  }

  byIds(ids: readonly string[]): Promise<(Model | null)[]> {
    return findByIds(this.ctx.em, Model, ids);
  }

  types(): ModelType[] {
    return modelTypes();
  }

  private setApiKey(model: Model, type: ModelType, apiKey: string | null | undefined): void {
    if (apiKey == null || apiKey === '') {
      Object.assign(model, { apiKeyCiphertext: null, apiKeyKeyId: null, apiKeyLast4: null });
      return;
    }
    if (!type.acceptsApiKey) throw new ValidationError(`Model type ${type.name} takes no API key`, { field: 'apiKey' });
    if (apiKey.length > MAX_API_KEY_CHARS || /\s/.test(apiKey)) {
      throw new ValidationError(`apiKey must be at most ${MAX_API_KEY_CHARS} characters without whitespace`, { field: 'apiKey' });
    }
    // Sealed for the server it goes to (model-key.ts): config is set first.
    const sealed = sealKey(this.ctx.deps.secrets, apiKey, model.id, type.keyDestination(model.config));
    Object.assign(model, { apiKeyCiphertext: sealed.ciphertext, apiKeyKeyId: sealed.keyId, apiKeyLast4: apiKey.length >= MIN_KEY_CHARS_FOR_LAST4 ? apiKey.slice(-4) : null });
  }
}

/** The settings of an embeddings model that decide its vectors (see assertVectorsKept). */
const VECTOR_SETTINGS = ['model', 'dimensions'] as const;

/** Whether a model answers questions (`chat`) or embeds text (`embeddings`). */
export function modelKind(model: Pick<Model, 'type'>): ModelKind {
  return typeNamed(model.type).kind;
}

/**
 * Refuses (BAD_USER_INPUT on `field`) a model of the wrong kind where one kind is needed: an
 * embeddings model cannot answer an endpoint's questions, a chat model cannot embed.
 */
export function assertModelKind(model: Pick<Model, 'name' | 'type'>, kind: ModelKind, field: string): void {
  const actual = modelKind(model);
  if (actual === kind) return;
  const needed = kind === 'chat' ? 'an answering (chat) model' : 'an embeddings model';
  throw new ValidationError(`Model "${model.name}" is of type ${model.type} (${actual}); ${field} needs ${needed}`, {
    field,
    reason: 'WRONG_MODEL_KIND',
    expected: kind.toUpperCase(),
    actual: actual.toUpperCase(),
  });
}

/**
 * The provider client for a chat model, its key opened. Used by queries only, never by a resolver
 * that returns data.
 */
export function modelClient(deps: KeyDeps, model: StoredModel): ModelClient {
  const type = typeNamed(model.type);
  assertModelKind(model, 'chat', 'modelId');
  // Not checked against the settings again: the provider guards each call itself.
  const config = validConfig(type, model.config);
  return (type as Extract<ModelType, { kind: 'chat' }>).create(config, openedKey(deps, model, type.keyDestination(config)), deps.modelSettings);
}

/**
 * What calling a model needs of the process: the master key to open its API key, the provider
 * settings, and where embedding calls are counted for /metrics (absent: not counted).
 */
type KeyDeps = Pick<ServiceContext['deps'], 'secrets' | 'modelSettings' | 'meter'>;
/** What calling a model needs of its row. */
type StoredModel = Pick<Model, 'id' | 'name' | 'type' | 'config' | 'apiKeyCiphertext' | 'apiKeyKeyId' | 'promptMicrosPer1k'>;

/** Embeddings with what they cost: tokens at the model's prompt price (micro-units per 1 000). */
export interface PricedEmbeddings extends Embeddings {
  usage: { promptTokens: number; costMicros: number };
}

export interface Embedder {
  embed(texts: readonly string[], signal?: AbortSignal, expected?: { dimension?: number }): Promise<PricedEmbeddings>;
}

/**
 * What embeds text with an embeddings model (BAD_USER_INPUT on `field` for a chat model), its key
 * opened, usage priced. For the domains that embed (ingestion, queries), never for a resolver.
 */
export function embedderFor(deps: KeyDeps, model: StoredModel, field = 'embeddingModelId'): Embedder {
  const type = typeNamed(model.type);
  assertModelKind(model, 'embeddings', field);
  const config = validConfig(type, model.config);
  const client = (type as Extract<ModelType, { kind: 'embeddings' }>).create(config, openedKey(deps, model, type.keyDestination(config)), deps.modelSettings);
  const price = model.promptMicrosPer1k;
  const { meter } = deps;
  return {
    async embed(texts, signal, expected) {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      let embedded: Embeddings;
      try {
        embedded = await client.embed(texts, signal, expected);
      } catch (error) {
        meter?.modelCall(model.id, 'embedding', signal?.aborted ? 'cancelled' : 'error', seconds(), { prompt: 0, completion: 0 });
        throw error;
      }
      const { vectors, usage } = embedded;
      meter?.modelCall(model.id, 'embedding', 'ok', seconds(), { prompt: usage.promptTokens, completion: 0 });
      return { vectors, usage: { promptTokens: usage.promptTokens, costMicros: Math.round((usage.promptTokens * price) / 1000) } };
    },
  };
}

/** The model's key, opened for the server it is about to be sent to (model-key.ts). */
function openedKey(deps: KeyDeps, model: StoredModel, destination: string | null): string | null {
  if (!model.apiKeyKeyId || !model.apiKeyCiphertext) return null;
  return openKey(deps.secrets, { keyId: model.apiKeyKeyId, ciphertext: model.apiKeyCiphertext }, model.id, destination).key;
}

function forgetHealth(model: Model): void {
  Object.assign(model, { healthStatus: null, healthCheckedAt: null, healthLatencyMs: null, healthError: null, healthRecent: null });
}

/**
 * What the audit trail shows of a model: never the key, only whether one is set, its last four
 * characters (of a key of 16 or more), and the origin it is sent to (a key given again for another server is a change).
 */
function shown(model: Model) {
  return {
    name: model.name,
    type: model.type,
    config: model.config,
    keySet: model.apiKeyCiphertext != null,
    keyLast4: model.apiKeyLast4 ?? null,
    keyOrigin: model.apiKeyCiphertext != null ? typeNamed(model.type).keyDestination(model.config) : null,
    promptMicrosPer1k: model.promptMicrosPer1k,
    completionMicrosPer1k: model.completionMicrosPer1k,
  };
}

function typeNamed(name: string): ModelType {
  const type = modelType(name);
  if (!type) {
    throw new ValidationError(`Unknown model type "${name}"; one of: ${modelTypes().map((known) => known.name).join(', ')}`, { field: 'type' });
  }
  return type;
}

/** A model's configuration: valid for its type and, when being set (`settings` given), allowed by the server's settings. */
function validConfig(type: ModelType, config: Record<string, unknown>, settings?: ProviderSettings): Record<string, unknown> {
  const valid = validConfiguration(type.configSchema, config, { typeName: type.name, field: 'config' });
  if (settings) type.checkConfig?.(valid, settings);
  return valid;
}

function validPrice(value: number | null | undefined, field: string): number {
  if (value == null) return 0;
  if (!Number.isInteger(value) || value < 0 || value > 1_000_000_000) {
    throw new ValidationError(`${field} must be a whole number of micro-units from 0 to 1000000000`, { field });
  }
  return value;
}
