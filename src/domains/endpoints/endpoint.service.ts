/**
 * A tenant's endpoints: a model over datasets behind a slug. Every id given (model, datasets)
 * must be the tenant's own; a foreign one is reported as not found, like a missing one.
 */
import { findByIds } from '../lookup.js';
import { auditChange } from '../audit/record.js';
import { Dataset } from '../datasets/dataset.entity.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { validDescription, validName, validSlug } from '../fields.js';
import { assertCan } from '../access/permissions.js';
import type { Model } from '../models/model.entity.js';
import { lockedModel } from '../models/model-lock.js';
import { assertModelKind } from '../models/model.service.js';
import { keysetPage, MAX_PAGE_SIZE, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { uniqueName } from '../unique-names.js';
import type { CatalogEntry, CatalogService } from './catalog.service.js';
import { Endpoint, minScoreOf } from './endpoint.entity.js';
import { assertDatasetsEmbedded, retrievalEngine, validMinScore, validRetrievalMode, type RetrievalEngine, type RetrievalMode } from './retrieval-mode.js';

export const MAX_TOP_K = 50;
/** The most endpoints `askable` lists: a list clients read whole (OpenAI's `/v1/models` has no pages). */
export const MAX_ASKABLE = 1000;
/** The most catalog pages `askable` reads (of MAX_PAGE_SIZE entries each). */
const MAX_CATALOG_PAGES = 20;
const MAX_DATASETS = 20;
const SLUG = uniqueName(Endpoint, 'slug', (slug) => `An endpoint with the slug "${slug}" already exists`);

export interface RetrievalSettings {
  /** KEYWORD (the default), SEMANTIC or HYBRID. */
  mode?: string | null;
  topK?: number | null;
  minScore?: number | null;
  /** 1 to 50; null: no limit. */
  passagesPerDocument?: number | null;
}

/** An endpoint the caller may ask, by the reference they ask it with. */
export interface AskableEndpoint {
  /** `tenantSlug/endpointSlug`. */
  reference: string;
  tenantSlug: string;
  name: string;
  description: string | null;
  /** Null for another tenant's endpoint: the catalog does not say when it was made. */
  createdAt: Date | null;
}

export interface EndpointInput {
  name: string;
  slug: string;
  description?: string | null;
  datasetIds: readonly string[];
  modelId: string;
  published?: boolean | null;
  /** Shown in the catalog; needs `published`. Default false. */
  listed?: boolean | null;
  /** Callers with no credential may ask too (while published). */
  allowAnonymous?: boolean | null;
  retrieval?: RetrievalSettings | null;
}

/** Omitted or null fields stay as they are (a null description clears it). */
export interface EndpointChanges {
  name?: string | null;
  slug?: string | null;
  description?: string | null;
  datasetIds?: readonly string[] | null;
  modelId?: string | null;
  published?: boolean | null;
  /** Omitted while unpublishing: the endpoint leaves the catalog too. */
  listed?: boolean | null;
  /** Callers with no credential may ask too (while published). */
  allowAnonymous?: boolean | null;
  retrieval?: RetrievalSettings | null;
}

export class EndpointService {
  constructor(
    private readonly ctx: ServiceContext,
    /** Other tenants' listed endpoints (the one cross-tenant read); none when not given. */
    private readonly catalog?: Pick<CatalogService, 'browse'>,
    /** Whether a fresh health check found a model DOWN (the engine of a HYBRID endpoint says so); absent: none is. */
    private readonly isModelDown?: (model: { healthStatus: string | null; healthCheckedAt: Date | null }) => boolean,
  ) {}

  async create(input: EndpointInput): Promise<Endpoint> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'endpoint:manage');
    await SLUG.assertFree(em, validSlug(input.slug));
    const retrievalMode = validRetrievalMode(input.retrieval?.mode ?? 'KEYWORD');
    const model = await this.ownModel(input.modelId);
    const datasetIds = await this.ownDatasets(input.datasetIds);
    await assertDatasetsEmbedded(em, retrievalMode, datasetIds);
    const endpoint = em.create(Endpoint, {
      tenant: actor.tenantId,
      name: validName(input.name),
      slug: validSlug(input.slug),
      description: validDescription(input.description),
      model,
      datasetIds,
      published: input.published ?? false,
      listed: listedIf(input.published ?? false, input.listed ?? false),
      allowAnonymous: input.allowAnonymous ?? false,
      retrievalMode,
      topK: validTopK(input.retrieval?.topK ?? 5),
      minScore: validMinScore(input.retrieval?.minScore, retrievalMode),
      passagesPerDocument: validPassagesPerDocument(input.retrieval?.passagesPerDocument),
    });
    await SLUG.flush(em, endpoint.slug);
    auditChange(this.ctx, 'endpoint.create', { type: 'Endpoint', id: endpoint.id }, null, shown(endpoint), AUDIT_MARKS);
    return endpoint;
  }

  async update(id: string, changes: EndpointChanges): Promise<Endpoint> {
    assertCan(this.ctx.actor, 'endpoint:manage');
    const endpoint = await this.get(id);
    const before = shown(endpoint);
    // Decided before anything changes. Unpublishing unlists: the catalog never shows what
    // callers of other tenants cannot ask.
    const published = changes.published ?? endpoint.published;
    const listed = listedIf(published, changes.listed ?? (published && endpoint.listed));
    if (changes.name != null) endpoint.name = validName(changes.name);
    if (changes.slug != null && changes.slug !== endpoint.slug) {
      await SLUG.assertFree(this.ctx.em, validSlug(changes.slug), endpoint.id);
      endpoint.slug = changes.slug;
    }
    if (changes.description !== undefined) endpoint.description = validDescription(changes.description);
    if (changes.modelId != null) endpoint.model = await this.ownModel(changes.modelId);
    if (changes.datasetIds != null) endpoint.datasetIds = await this.ownDatasets(changes.datasetIds);
    endpoint.published = published;
    endpoint.listed = listed;
    if (changes.allowAnonymous != null) endpoint.allowAnonymous = changes.allowAnonymous;
    if (changes.retrieval?.mode != null) endpoint.retrievalMode = validRetrievalMode(changes.retrieval.mode);
    if (changes.retrieval?.mode != null || changes.datasetIds != null) {
      await assertDatasetsEmbedded(this.ctx.em, endpoint.retrievalMode as RetrievalMode, endpoint.datasetIds);
    }
    if (changes.retrieval?.topK != null) endpoint.topK = validTopK(changes.retrieval.topK);
    // Checked against the mode as changed: a minScore kept from another mode may be out of its range.
    if (changes.retrieval && changes.retrieval.minScore !== undefined) endpoint.minScore = validMinScore(changes.retrieval.minScore, endpoint.retrievalMode as RetrievalMode);
    else if (changes.retrieval?.mode != null) validMinScore(minScoreOf(endpoint), endpoint.retrievalMode as RetrievalMode);
    if (changes.retrieval && changes.retrieval.passagesPerDocument !== undefined) {
      endpoint.passagesPerDocument = validPassagesPerDocument(changes.retrieval.passagesPerDocument);
    }
    await SLUG.flush(this.ctx.em, endpoint.slug);
    auditChange(this.ctx, 'endpoint.update', { type: 'Endpoint', id: endpoint.id }, before, shown(endpoint), AUDIT_MARKS);
    return endpoint;
  }

  /** Removes the endpoint; its usage records stay (they name its slug). Returns its id. */
  async delete(id: string): Promise<string> {
    assertCan(this.ctx.actor, 'endpoint:manage');
    const endpoint = await this.get(id);
    await this.ctx.em.nativeDelete(Endpoint, { id: endpoint.id });
    this.ctx.em.getUnitOfWork().unsetIdentity(endpoint);
    auditChange(this.ctx, 'endpoint.delete', { type: 'Endpoint', id: endpoint.id }, shown(endpoint), null, AUDIT_MARKS);
    return endpoint.id;
  }

  async get(id: string): Promise<Endpoint> {
    assertCan(this.ctx.actor, 'tenant:read');
    const endpoint = await this.ctx.em.findOne(Endpoint, { id });
    if (!endpoint) throw new NotFoundError('Endpoint');
    return endpoint;
  }

  async bySlug(slug: string): Promise<Endpoint | null> {
    assertCan(this.ctx.actor, 'tenant:read');
    return this.ctx.em.findOne(Endpoint, { slug });
  }

  async list(request: PageRequest): Promise<Page<Endpoint>> {
    assertCan(this.ctx.actor, 'tenant:read');
    return keysetPage(this.ctx.em, Endpoint, {}, request);
  }

  /**
   * What the caller may ask, by reference (the OpenAI-compatible `/v1/models`): their own
   * tenant's endpoints, published or not, oldest first, at most MAX_ASKABLE. Read in a
   * transaction of its own, so it serves doors with no request transaction (routes/).
   */
  async askable(): Promise<AskableEndpoint[]> {
    const { actor } = this.ctx;
    // Anonymous callers: the listed endpoints that take callers with no credential.
    if (actor.kind === 'anonymous') return this.listed(MAX_ASKABLE, (entry) => !entry.access.credentialRequired, new Set());
    assertCan(actor, 'endpoint:query');
    const own = await this.ctx.scope.read((em) =>
      em.find(Endpoint, {}, { fields: ['slug', 'name', 'description', 'createdAt'], orderBy: { createdAt: 'asc', id: 'asc' }, limit: MAX_ASKABLE }),
    );
    const mine: AskableEndpoint[] = own.map((endpoint) => ({
      reference: `${actor.tenantSlug}/${endpoint.slug}`,
      tenantSlug: actor.tenantSlug,
      name: endpoint.name,
      description: endpoint.description ?? null,
      createdAt: endpoint.createdAt,
    }));
    // Then other tenants' listed (so published) endpoints, up to the same cap in all; the
    // caller's own listed ones are in the catalog too, and are not repeated.
    const others = await this.listed(MAX_ASKABLE - mine.length, () => true, new Set(mine.map((endpoint) => endpoint.reference)));
    return [...mine, ...others];
  }

  /** Up to `room` catalog entries that `fits` takes and `seen` does not hold, in catalog order. */
  private async listed(room: number, fits: (entry: CatalogEntry) => boolean, seen: Set<string>): Promise<AskableEndpoint[]> {
    const found: AskableEndpoint[] = [];
    if (!this.catalog) return found;
    let after: string | null = null;
    // Bounded: at most MAX_CATALOG_PAGES pages are read, whatever the filter leaves.
    for (let pages = 0; found.length < room && pages < MAX_CATALOG_PAGES; pages++) {
      const page = await this.catalog.browse({ first: MAX_PAGE_SIZE, after });
      for (const entry of page.items) {
        if (found.length >= room) break;
        if (seen.has(entry.address) || !fits(entry)) continue;
        seen.add(entry.address);
        found.push({ reference: entry.address, tenantSlug: entry.tenant.slug, name: entry.name, description: entry.description, createdAt: null });
      }
      const last = page.items.at(-1);
      if (!page.hasNextPage || !last) break;
      after = page.cursorOf(last);
    }
    return found;
  }

  /** The engine that serves the endpoint's retrieval now (retrieval-mode.ts). */
  engine(endpoint: Endpoint): Promise<RetrievalEngine> {
    return retrievalEngine(this.ctx.em, endpoint.retrievalMode as RetrievalMode, endpoint.datasetIds, this.isModelDown);
  }

  byIds(ids: readonly string[]): Promise<(Endpoint | null)[]> {
    return findByIds(this.ctx.em, Endpoint, ids);
  }

  /** Locked FOR SHARE until the transaction ends: the endpoint cannot lose it to a concurrent deleteModel (models/model-lock.ts). */
  private async ownModel(id: string): Promise<Model> {
    const model = await lockedModel(this.ctx.em, id, 'share');
    if (!model) throw new NotFoundError('Model', { field: 'modelId' });
    assertModelKind(model, 'chat', 'modelId');
    return model;
  }

  private async ownDatasets(ids: readonly string[]): Promise<string[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0 || unique.length > MAX_DATASETS) {
      throw new ValidationError(`datasetIds must name 1 to ${MAX_DATASETS} datasets`, { field: 'datasetIds' });
    }
    const found = await this.ctx.em.find(Dataset, { id: { $in: unique } }, { fields: ['id'] });
    const missing = unique.filter((id) => !found.some((dataset) => dataset.id === id));
    if (missing.length > 0) throw new NotFoundError('Dataset', { field: 'datasetIds', count: missing.length });
    return unique;
  }
}

/** The endpoint's description is free text, as CreateEndpointInput.description is marked. */
const AUDIT_MARKS = { description: 'text' } as const;

function shown(endpoint: Endpoint) {
  return {
    name: endpoint.name,
    slug: endpoint.slug,
    description: endpoint.description ?? null,
    modelId: endpoint.model.id,
    datasetIds: endpoint.datasetIds,
    published: endpoint.published,
    listed: endpoint.listed,
    allowAnonymous: endpoint.allowAnonymous,
    retrievalMode: endpoint.retrievalMode,
    topK: endpoint.topK,
    minScore: minScoreOf(endpoint),
    passagesPerDocument: endpoint.passagesPerDocument ?? null,
  };
}

/** `listed` when allowed: only a published endpoint may be listed (the table checks it too). */
function listedIf(published: boolean, listed: boolean): boolean {
  if (listed && !published) {
    throw new ValidationError('Only a published endpoint can be listed in the catalog: publish it too', { field: 'listed', reason: 'NOT_PUBLISHED' });
  }
  return listed;
}

export function validTopK(topK: number): number {
  if (!Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K) throw new ValidationError(`topK must be 1 to ${MAX_TOP_K}`, { field: 'topK' });
  return topK;
}

export function validPassagesPerDocument(limit: number | null | undefined): number | null {
  if (limit == null) return null;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TOP_K) {
    throw new ValidationError(`passagesPerDocument must be 1 to ${MAX_TOP_K}, or null for no limit`, { field: 'passagesPerDocument' });
  }
  return limit;
}

