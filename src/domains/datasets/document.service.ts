/**
 * Reading a dataset's documents. A page of documents for each of many datasets (a list of
 * datasets, each with its first documents) is one SQL statement, whatever the number of
 * datasets: the requests of one tick are batched (DataLoader) and answered with a window
 * function per dataset. Times are compared at millisecond precision, the cursors' (the writer
 * stamps documents with PostgreSQL's microseconds).
 */
import DataLoader from 'dataloader';
import { boundSql, pgArray } from '../../db/bound-sql.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { escapeLike } from '../fields.js';
import { assertCan } from '../access/permissions.js';
import { findByIds } from '../lookup.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, encodeCursor, MAX_PAGE_SIZE, type Page } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { Document } from './document.entity.js';

/** The longest title filter: a search box, not a document. */
const MAX_TITLE_FILTER = 200;

export interface DocumentRow {
  id: string;
  tenantId: string;
  datasetId: string;
  sourceKey: string;
  title: string;
  mimeType: string;
  byteCount: number;
  chunkCount: number;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

interface PageKey {
  datasetId: string;
  first: number;
  after: string | null;
  /** Only documents whose title contains this (case-insensitive). */
  titleContains: string | null;
}

/** What deleting a document removed. */
export interface RemovedDocument {
  id: string;
  datasetId: string;
  sourceKey: string;
  title: string;
  chunkCount: number;
}

export class DocumentService {
  private readonly pages = new DataLoader<PageKey, Page<DocumentRow>, string>((keys) => this.loadPages(keys), {
    cacheKeyFn: (key) => JSON.stringify([key.datasetId, key.first, key.after, key.titleContains]),
  });

  constructor(private readonly ctx: ServiceContext) {}

  /** The dataset's documents, oldest first (forward pagination), optionally those whose title contains `titleContains`. */
  async page(datasetId: string, request: { first?: number | null; after?: string | null; last?: number | null; before?: string | null; titleContains?: string | null }): Promise<Page<DocumentRow>> {
    assertCan(this.ctx.actor, 'tenant:read');
    // The connection has Relay's four arguments; a page for each of many datasets is one
    // forward query, so `last`/`before` are refused rather than silently ignored.
    if (request.last != null || request.before != null) throw new ValidationError('Documents are paged forward only: use first and after', { field: request.before != null ? 'before' : 'last' });
    const first = request.first ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) throw new ValidationError(`Page size must be between 0 and ${MAX_PAGE_SIZE}`, { max: MAX_PAGE_SIZE });
    if (request.after) decodeCursor(request.after);
    const titleContains = request.titleContains?.trim() || null;
    if (titleContains && titleContains.length > MAX_TITLE_FILTER) throw new ValidationError(`titleContains is at most ${MAX_TITLE_FILTER} characters`, { max: MAX_TITLE_FILTER });
    return this.pages.load({ datasetId, first, after: request.after ?? null, titleContains });
  }

  async byIds(ids: readonly string[]): Promise<(DocumentRow | null)[]> {
    return (await findByIds(this.ctx.em, Document, ids)).map((document) => document && rowOf(document));
  }

  /**
   * Removes a document with its chunks, embeddings and search statistics, and takes it off its
   * dataset's counters (`delete_documents`, one statement). Found through the ORM first, so the
   * tenant filter answers a foreign id with NOT_FOUND before row-level security would.
   */
  async delete(id: string): Promise<RemovedDocument> {
    assertCan(this.ctx.actor, 'data:write');
    const document = await this.ctx.em.findOne(Document, { id }, { fields: ['id'] });
    if (!document) throw new NotFoundError('Document');
    this.ctx.em.getUnitOfWork().unsetIdentity(document);
    const [removed] = await boundSql<RemovedDocument>(
      this.ctx.em,
      'select id, dataset_id as "datasetId", source_key as "sourceKey", title, chunk_count as "chunkCount" from delete_documents(?::uuid[])',
      [pgArray([id])],
    );
    // Gone between the two statements (another caller deleted it): the same answer.
    if (!removed) throw new NotFoundError('Document');
    return removed;
  }

  /** One statement per distinct (page size, cursor): in practice one per batch. */
  private async loadPages(keys: readonly PageKey[]): Promise<Page<DocumentRow>[]> {
    const groups = new Map<string, PageKey[]>();
    for (const key of keys) {
      const group = JSON.stringify([key.first, key.after, key.titleContains]);
      groups.set(group, [...(groups.get(group) ?? []), key]);
    }
    const pages = new Map<PageKey, Page<DocumentRow>>();
    for (const group of groups.values()) {
      const { first, after, titleContains } = group[0]!;
      const cursor = after ? decodeCursor(after) : null;
      const titleParams = titleContains ? [`%${escapeLike(titleContains)}%`] : [];
      const rows = await boundSql<DocumentRow & { n: string }>(
        this.ctx.em,
        `select * from (
           select d.id, d.tenant_id as "tenantId", d.dataset_id as "datasetId", d.source_key as "sourceKey", d.title, d.mime_type as "mimeType",
                  d.byte_count as "byteCount", d.chunk_count as "chunkCount", d.metadata, d.created_at as "createdAt", d.updated_at as "updatedAt",
                  row_number() over (partition by d.dataset_id order by date_trunc('milliseconds', d.created_at), d.id) as n
             from documents d
            where d.tenant_id = ?::uuid and d.dataset_id = any(?::uuid[])
              ${cursor ? "and (date_trunc('milliseconds', d.created_at), d.id) > (?::timestamptz, ?::uuid)" : ''}
              ${titleContains ? `and d.title ilike ? escape '\\'` : ''}
         ) ranked where n <= ? order by "datasetId", n`,
        [
          this.ctx.actor.tenantId!,
          pgArray(group.map((key) => key.datasetId)),
          ...(cursor ? [cursor.createdAt.toISOString(), cursor.id] : []),
          ...titleParams,
          first + 1,
        ],
      );
      // One pass over the rows (ordered by dataset): a page per dataset.
      const byDataset = new Map<string, DocumentRow[]>();
      for (const row of rows) {
        // The rows are this request's own: their timestamps (text) become Dates in place.
        row.createdAt = new Date(row.createdAt);
        row.updatedAt = new Date(row.updatedAt);
        const list = byDataset.get(row.datasetId);
        if (list) list.push(row);
        else byDataset.set(row.datasetId, [row]);
      }
      for (const key of group) {
        const mine = byDataset.get(key.datasetId) ?? [];
        pages.set(key, { items: mine.slice(0, first), hasNextPage: mine.length > first, hasPreviousPage: Boolean(after), cursorOf: encodeCursor });
      }
    }
    return keys.map((key) => pages.get(key)!);
  }
}

function rowOf(document: Document): DocumentRow {
  return {
    id: document.id,
    tenantId: document.tenant.id,
    datasetId: document.dataset.id,
    sourceKey: document.sourceKey,
    title: document.title,
    mimeType: document.mimeType,
    byteCount: document.byteCount,
    chunkCount: document.chunkCount,
    metadata: document.metadata,
    createdAt: document.createdAt,
    updatedAt: document.updatedAt,
  };
}
