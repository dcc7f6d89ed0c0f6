/**
 * Datasets as the caller may see and change them. Deleting one removes its documents, chunks
 * and ingestion jobs (foreign keys cascade); a job a worker is running stops at its next input.
 */
import { findByIds } from '../lookup.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { escapeLike, retentionHours, validDescription, validName, validSlug } from '../fields.js';
import { assertCan } from '../access/permissions.js';
import { keysetRows, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { uniqueName } from '../unique-names.js';
import { changeEmbeddingModel, embeddingModelChange, embeddingModelNamed, embeddingStates, type DatasetEmbeddingState, type EmbeddingJobs, type VectorUsers } from './dataset-embedding.js';
import { followDatasetSettings, type DatasetSettings } from './dataset-feed.js';
import { Dataset } from './dataset.entity.js';
import { dequeueDatasetJobs, lockDatasetJobs } from './ingestion-locks.js';
import { isTextSearchLanguage, TEXT_SEARCH_LANGUAGES } from './languages.js';

export interface DatasetInput {
  name: string;
  slug: string;
  description?: string | null;
  language?: string | null;
  /** The embeddings model its chunks are embedded with (omitted or null: keyword search only). */
  embeddingModelId?: string | null;
  /** Hours its documents are kept after they were last ingested; omitted or null: the tenant's default. */
  documentRetentionHours?: number | null;
}

export interface DatasetChanges {
  name?: string | null;
  slug?: string | null;
  description?: string | null;
  /** Omitted: unchanged; null: keyword only (its vectors are deleted); another model: re-embeds the dataset. */
  embeddingModelId?: string | null;
  /** Omitted: unchanged; null: the tenant's default. */
  documentRetentionHours?: number | null;
}

/** What the API shows of a dataset: the entity, or a row a list reads without one. */
export type DatasetView = Pick<
  Dataset,
  'id' | 'name' | 'slug' | 'description' | 'language' | 'documentCount' | 'chunkCount' | 'byteCount' | 'lastIngestedAt' | 'documentRetentionHours' | 'createdAt' | 'updatedAt'
> & { tenant: { id: string } };

const VIEW_COLUMNS = `id, name, slug, description, language, document_count as "documentCount", chunk_count as "chunkCount",
  byte_count as "byteCount", last_ingested_at as "lastIngestedAt", document_retention_hours as "documentRetentionHours", created_at as "createdAt", updated_at as "updatedAt", tenant_id as "tenantId"`;

const SLUG = uniqueName(Dataset, 'slug', (slug) => `A dataset with the slug "${slug}" already exists`);

export class DatasetService {
  constructor(
    private readonly ctx: ServiceContext,
    /** Starts a re-embed job when the embedding model changes (ingestion's, supplied by services.ts). */
    private readonly embeddingJobs: EmbeddingJobs,
    /** The endpoints ranking a dataset by its vectors, which clearing its model would leave answering nothing. */
    private readonly vectorUsers: VectorUsers,
  ) {}

  async create(input: DatasetInput): Promise<Dataset> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'data:write');
    const language = input.language ?? 'english';
    if (!isTextSearchLanguage(language)) {
      throw new ValidationError(`language must be one of ${TEXT_SEARCH_LANGUAGES.join(', ')}`, { field: 'language' });
    }
    await SLUG.assertFree(em, validSlug(input.slug));
    // A new dataset has no chunks to embed: its first ingestion embeds them (no re-embed job).
    const embeddingModel = input.embeddingModelId ? await embeddingModelNamed(em, input.embeddingModelId) : null;
    const dataset = em.create(Dataset, {
      tenant: actor.tenantId,
      name: validName(input.name),
      slug: validSlug(input.slug),
      description: validDescription(input.description),
      language,
      embeddingModel,
      documentRetentionHours: retentionHours('documentRetentionHours', input.documentRetentionHours ?? null),
    });
    await SLUG.flush(em, input.slug);
    return dataset;
  }

  async update(id: string, changes: DatasetChanges): Promise<Dataset> {
    assertCan(this.ctx.actor, 'data:write');
    const dataset = await this.get(id);
    // Every change is checked (the model and the slug read) before any field is set: a read
    // flushes the fields set before it, and a mutation commits what it wrote even when it
    // answers with an error (test/ingestion/embedding-model-change-during-ingestion.test.ts).
    const embedding = changes.embeddingModelId === undefined ? undefined : await embeddingModelChange(this.ctx.em, dataset, changes.embeddingModelId);
    if (embedding?.model === null) await this.assertNoVectorUsers(dataset.id);
    const fields: Partial<Pick<Dataset, 'name' | 'slug' | 'documentRetentionHours' | 'description'>> = {};
    if (changes.name != null) fields.name = validName(changes.name);
    if (changes.slug != null && changes.slug !== dataset.slug) {
      await SLUG.assertFree(this.ctx.em, validSlug(changes.slug), dataset.id);
      fields.slug = changes.slug;
    }
    if (changes.documentRetentionHours !== undefined) fields.documentRetentionHours = retentionHours('documentRetentionHours', changes.documentRetentionHours);
    if (changes.description !== undefined) fields.description = validDescription(changes.description);
    Object.assign(dataset, fields);
    const flush = () => SLUG.flush(this.ctx.em, dataset.slug);
    if (embedding) {
      // Its running jobs first (ingestion-locks.ts): a group replacing documents and an
      // embedding job switching its serving model each hold their job while they take vectors
      // and the dataset's row, in orders the change cannot both follow.
      await lockDatasetJobs(this.ctx.em, dataset.id, 'running');
      await changeEmbeddingModel(this.ctx.em, dataset, embedding, flush, this.embeddingJobs);
    } else {
      await flush();
    }
    this.announceChange(dataset.id);
    return dataset;
  }

  /**
   * A dataset a SEMANTIC or HYBRID endpoint ranks by its vectors keeps a model: cleared, the
   * endpoint would answer nothing (or keyword only) and say nothing, where creating such an
   * endpoint is refused (NO_EMBEDDING_MODEL). CONFLICT `USED_BY_VECTOR_ENDPOINTS` names them.
   */
  private async assertNoVectorUsers(datasetId: string): Promise<void> {
    const endpoints = await this.vectorUsers(datasetId);
    if (endpoints.length === 0) return;
    throw new ConflictError(
      `The dataset's vectors rank ${endpoints.length} SEMANTIC or HYBRID endpoint${endpoints.length === 1 ? '' : 's'} (${endpoints.join(', ')}): set their retrieval mode to KEYWORD or take the dataset out of them first`,
      { reason: 'USED_BY_VECTOR_ENDPOINTS', field: 'embeddingModelId', endpoints },
    );
  }

  /** Removes the dataset with everything in it; returns its id. */
  async delete(id: string): Promise<string> {
    assertCan(this.ctx.actor, 'data:write');
    const dataset = await this.get(id);
    await this.ctx.em.transactional(async (tx) => {
      // The dataset's ingestion jobs first (ingestion-locks.ts): taken by the cascade after the
      // dataset's and documents' rows, the delete deadlocked with a group being written or left
      // it to fail on the vanished dataset (test/ingestion/delete-during-ingestion.test.ts). Now
      // it waits for the groups in flight to commit, and the job's next group finds the job gone.
      await lockDatasetJobs(tx, dataset.id, 'all');
      await dequeueDatasetJobs(tx, dataset.id);
      // One DELETE: the database cascades to documents, chunks, jobs and their inputs.
      await tx.nativeDelete(Dataset, { id: dataset.id });
    });
    this.ctx.em.getUnitOfWork().unsetIdentity(dataset);
    this.announceChange(dataset.id);
    return dataset.id;
  }

  async get(id: string): Promise<Dataset> {
    assertCan(this.ctx.actor, 'tenant:read');
    const dataset = await this.ctx.em.findOne(Dataset, { id });
    if (!dataset) throw new NotFoundError('Dataset');
    return dataset;
  }

  async bySlug(slug: string): Promise<Dataset | null> {
    assertCan(this.ctx.actor, 'tenant:read');
    return this.ctx.em.findOne(Dataset, { slug });
  }

  /** The hot list (every console and SDK start): one statement, plain rows. */
  async list(request: PageRequest & { nameContains?: string | null }): Promise<Page<DatasetView>> {
    assertCan(this.ctx.actor, 'tenant:read');
    const where = ['tenant_id = ?::uuid'];
    const params = [this.ctx.actor.tenantId!];
    if (request.nameContains) (where.push(`name ilike ? escape '\\'`), params.push(`%${escapeLike(request.nameContains)}%`));
    type Row = DatasetView & { tenantId: string; chunkCount: number | string; byteCount: number | string; lastIngestedAt: Date | string | null; updatedAt: Date | string };
    return keysetRows<Row>(this.ctx.em, { select: VIEW_COLUMNS, from: 'datasets', where: where.join(' and '), params }, request, (row) => ({
      ...row,
      // bigint columns arrive as text, timestamps too (MikroORM's type parsers).
      chunkCount: Number(row.chunkCount),
      byteCount: Number(row.byteCount),
      lastIngestedAt: row.lastIngestedAt === null ? null : new Date(row.lastIngestedAt),
      updatedAt: new Date(row.updatedAt),
      tenant: { id: row.tenantId },
    }));
  }

  /** Each dataset's embedding model, serving model and progress (null: keyword only), in one statement for many. */
  embeddingStates(ids: readonly string[]): Promise<(DatasetEmbeddingState | null)[]> {
    assertCan(this.ctx.actor, 'tenant:read');
    return embeddingStates(this.ctx.em, this.ctx.actor.tenantId!, ids);
  }

  byIds(ids: readonly string[]): Promise<(Dataset | null)[]> {
    return findByIds(this.ctx.em, Dataset, ids);
  }

  /**
   * The dataset's settings now, then after each change, wherever it was made (dataset-feed.ts).
   * Authorised here, before the stream starts: a dataset the caller cannot see is NOT_FOUND.
   */
  async follow(id: string): Promise<AsyncIterableIterator<DatasetSettings>> {
    const { actor, scope, deps } = this.ctx;
    assertCan(actor, 'tenant:read');
    // Outside the request transaction: each read is a short one of its own, in the caller's tenant (RLS too).
    const read = (datasetId: string) =>
      scope.read(async (em) => {
        const dataset = await em.findOne(Dataset, { id: datasetId });
        return dataset ? settingsOf(dataset) : null;
      });
    const start = await read(id);
    if (!start) throw new NotFoundError('Dataset');
    return followDatasetSettings(start, {
      tenantId: actor.tenantId!,
      read,
      open: () => !scope.closed,
      hints: deps.progress,
      readers: deps.topicReaders,
      pollMs: deps.ingestion.progressPollMs,
    });
  }

  /** Once the change has committed, subscribers in any process read the dataset again. */
  private announceChange(datasetId: string): void {
    const { actor, scope, deps } = this.ctx;
    scope.afterCommit(() => deps.progress.publishDatasetChange({ tenantId: actor.tenantId!, datasetId }));
  }
}

function settingsOf(dataset: Dataset): DatasetSettings {
  return {
    id: dataset.id,
    tenantId: dataset.tenant.id,
    name: dataset.name,
    slug: dataset.slug,
    description: dataset.description ?? null,
    language: dataset.language,
    documentRetentionHours: dataset.documentRetentionHours ?? null,
    embeddingModelId: dataset.embeddingModel?.id ?? null,
    updatedAt: dataset.updatedAt,
  };
}
