/**
 * Datasets as the caller may see and change them. Deleting one removes its documents, chunks
 * and ingestion jobs (foreign keys cascade); a job a worker is running stops at its next input.
 */
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { findByIds } from '../lookup.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { escapeLike, validDescription, validName, validSlug } from '../fields.js';
import { assertCan } from '../access/permissions.js';
import { keysetRows, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { Dataset } from './dataset.entity.js';
import { isTextSearchLanguage, TEXT_SEARCH_LANGUAGES } from './languages.js';

export interface DatasetInput {
  name: string;
  slug: string;
  description?: string | null;
  language?: string | null;
}

export interface DatasetChanges {
  name?: string | null;
  slug?: string | null;
  description?: string | null;
}

/** What the API shows of a dataset: the entity, or a row a list reads without one. */
export type DatasetView = Pick<
  Dataset,
  'id' | 'name' | 'slug' | 'description' | 'language' | 'documentCount' | 'chunkCount' | 'byteCount' | 'lastIngestedAt' | 'createdAt' | 'updatedAt'
> & { tenant: { id: string } };

const VIEW_COLUMNS = `id, name, slug, description, language, document_count as "documentCount", chunk_count as "chunkCount",
  byte_count as "byteCount", last_ingested_at as "lastIngestedAt", created_at as "createdAt", updated_at as "updatedAt", tenant_id as "tenantId"`;

export class DatasetService {
  constructor(private readonly ctx: ServiceContext) {}

  async create(input: DatasetInput): Promise<Dataset> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'data:write');
    const language = input.language ?? 'english';
    if (!isTextSearchLanguage(language)) {
      throw new ValidationError(`language must be one of ${TEXT_SEARCH_LANGUAGES.join(', ')}`, { field: 'language' });
    }
    await this.assertSlugFree(validSlug(input.slug));
    const dataset = em.create(Dataset, {
      tenant: actor.tenantId,
      name: validName(input.name),
      slug: validSlug(input.slug),
      description: validDescription(input.description),
      language,
    });
    await this.flushUnique(input.slug);
    return dataset;
  }

  async update(id: string, changes: DatasetChanges): Promise<Dataset> {
    assertCan(this.ctx.actor, 'data:write');
    const dataset = await this.get(id);
    if (changes.name != null) dataset.name = validName(changes.name);
    if (changes.slug != null && changes.slug !== dataset.slug) {
      await this.assertSlugFree(validSlug(changes.slug), dataset.id);
      dataset.slug = changes.slug;
    }
    if (changes.description !== undefined) dataset.description = validDescription(changes.description);
    await this.flushUnique(dataset.slug);
    return dataset;
  }

  /** Removes the dataset with everything in it; returns its id. */
  async delete(id: string): Promise<string> {
    assertCan(this.ctx.actor, 'data:write');
    const dataset = await this.get(id);
    // One DELETE: the database cascades to documents, chunks, jobs and their inputs.
    await this.ctx.em.nativeDelete(Dataset, { id: dataset.id });
    this.ctx.em.getUnitOfWork().unsetIdentity(dataset);
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
    if (request.nameContains) (where.push('name ilike ?'), params.push(`%${escapeLike(request.nameContains)}%`));
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

  byIds(ids: readonly string[]): Promise<(Dataset | null)[]> {
    return findByIds(this.ctx.em, Dataset, ids);
  }

  /** Checked before flushing, so a taken slug does not abort the request's transaction. */
  private async assertSlugFree(slug: string, exceptId?: string): Promise<void> {
    const where = exceptId ? { slug, id: { $ne: exceptId } } : { slug };
    if ((await this.ctx.em.count(Dataset, where, { flushMode: 'commit' })) > 0) {
      throw new ConflictError(`A dataset with the slug "${slug}" already exists`, { field: 'slug' });
    }
  }

  /** The check above can race another request; the unique index decides then. */
  private async flushUnique(slug: string): Promise<void> {
    try {
      await this.ctx.em.flush();
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) {
        throw new ConflictError(`A dataset with the slug "${slug}" already exists`, { field: 'slug' });
      }
      throw error;
    }
  }
}
