/**
 * Starting, watching, cancelling and retrying ingestion jobs. `ingest` validates every input
 * up front (limits, format, UTF-8) and refuses the whole call if one is bad, so nothing is
 * half-accepted; it stores the inputs durably and enqueues the job in the same transaction,
 * so a job exists exactly when its queue entry does. The worker (pipeline.ts) does the rest.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { findByIds } from '../lookup.js';
import { boundSql } from '../../db/bound-sql.js';
import { bindTenantSession, tenantSessionOf } from '../../db/tenant-session.js';
import { Dataset } from '../datasets/dataset.entity.js';
import { displayName, oneLine, TITLE_MAX, titleFromContent } from '../display-text.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { assertCan } from '../access/permissions.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { IngestionItem } from './ingestion-item.entity.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { resolveIngestionOptions, type IngestionOptionsInput } from './options.js';
import { assertTextual, decodeUtf8, detectFormat, MIME_OF, type Format } from './parsers/formats.js';
import { followDataset, followJob, type FeedOptions, type ProgressSource } from './progress-feed.js';
import { outcomeOf, snapshotOf, type ProgressUpdate } from './progress.js';
import { lockJob } from './job-lock.js';
import { enqueueIngestion } from './queue.js';
import { isTerminal } from './stages.js';

export interface IngestionLimits {
  maxFileBytes: number;
  maxFiles: number;
  maxRequestBytes: number;
  progressPollMs: number;
}

/** An uploaded file: the web File API's shape, so the schema can pass uploads straight in. */
export interface UploadedFile {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface InlineDocument {
  title: string;
  text: string;
  mimeType?: string | null;
  metadata?: Record<string, unknown> | null;
}

interface AcceptedInput {
  name: string;
  format: Format;
  mimeType: string;
  content: string;
  byteCount: number;
  metadata: Record<string, unknown>;
}

export class IngestionService {
  constructor(private readonly ctx: ServiceContext) {}

  async ingest(datasetId: string, files: readonly UploadedFile[], documents: readonly InlineDocument[], options?: IngestionOptionsInput): Promise<IngestionJob> {
    const { actor, em, deps } = this.ctx;
    assertCan(actor, 'data:write');
    const resolved = resolveIngestionOptions(options);
    const dataset = await em.findOne(Dataset, { id: datasetId });
    if (!dataset) throw new NotFoundError('Dataset');
    const inputs = await this.accept(files, documents);
    const job = em.create(IngestionJob, {
      tenant: actor.tenantId,
      dataset,
      options: resolved,
      documentsTotal: inputs.length,
      bytesTotal: inputs.reduce((sum, input) => sum + input.byteCount, 0),
      createdBy: actor.userId,
    });
    await em.flush();
    await storeInputs(em, actor.tenantId, job.id, inputs);
    await enqueueIngestion(em, job.id);
    return job;
  }

  async cancel(jobId: string): Promise<IngestionJob> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'data:write');
    const job = await this.lockedJob(jobId);
    if (isTerminal(job.stage)) throw new ConflictError(`The job has already ended (${job.stage})`, { stage: job.stage });
    const sequence = job.sequence + 1;
    const stopped = await em.nativeUpdate(
      IngestionItem,
      { job, status: { $in: ['PENDING', 'PARSED'] } },
      { status: 'CANCELLED', sequence, finishedAt: new Date() },
    );
    Object.assign(job, { stage: 'CANCELLED', sequence, finishedAt: new Date(), documentsDone: job.documentsDone + stopped });
    await em.flush();
    this.publishAfterCommit(job, sequence - 1);
    return job;
  }

  /** Runs the inputs that failed or were cancelled again, with the job's original options. */
  async retry(jobId: string): Promise<IngestionJob> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'data:write');
    const job = await this.lockedJob(jobId);
    if (!isTerminal(job.stage)) throw new ConflictError(`The job is still running (${job.stage})`, { stage: job.stage });
    const again = await em.find(IngestionItem, { job, status: { $in: ['FAILED', 'CANCELLED'] } }, { fields: ['id', 'status', 'byteCount'] });
    if (again.length === 0) throw new ConflictError('Nothing to retry: every input of the job was ingested');
    const failed = again.filter((item) => item.status === 'FAILED').length;
    await em.nativeUpdate(IngestionItem, { id: { $in: again.map((item) => item.id) } }, { status: 'PENDING', error: null, errorReason: null, sequence: null, finishedAt: null });
    Object.assign(job, {
      stage: 'QUEUED',
      error: null,
      finishedAt: null,
      sequence: job.sequence + 1,
      documentsDone: job.documentsDone - again.length,
      documentsFailed: job.documentsFailed - failed,
      bytesDone: job.bytesDone - again.reduce((sum, item) => sum + item.byteCount, 0),
    });
    await em.flush();
    await enqueueIngestion(em, job.id);
    this.publishAfterCommit(job, job.sequence - 1);
    return job;
  }

  async get(jobId: string): Promise<IngestionJob> {
    assertCan(this.ctx.actor, 'tenant:read');
    const job = await this.ctx.em.findOne(IngestionJob, { id: jobId });
    if (!job) throw new NotFoundError('Ingestion job');
    return job;
  }

  async list(datasetId: string, request: PageRequest): Promise<Page<IngestionJob>> {
    assertCan(this.ctx.actor, 'tenant:read');
    return keysetPage(this.ctx.em, IngestionJob, { dataset: datasetId }, request);
  }

  byIds(ids: readonly string[]): Promise<(IngestionJob | null)[]> {
    return findByIds(this.ctx.em, IngestionJob, ids);
  }

  /** The inputs of a job in order, with their outcomes. */
  async items(jobId: string) {
    assertCan(this.ctx.actor, 'tenant:read');
    return this.ctx.em.find(IngestionItem, { job: jobId }, { orderBy: { ordinal: 'asc' }, exclude: ['content'] });
  }

  /**
   * Live progress of one job. Authorised here, before the stream starts: a job the caller
   * cannot see is NOT_FOUND, never an empty stream.
   */
  async follow(jobId: string, after: number | null): Promise<AsyncIterableIterator<ProgressUpdate>> {
    assertCan(this.ctx.actor, 'tenant:read');
    if (after !== null && (!Number.isInteger(after) || after < 0)) throw new ValidationError('after must be a sequence (0 or more)', { field: 'after' });
    const source = this.progressSource();
    const start = await source.job(jobId);
    if (!start) throw new NotFoundError('Ingestion job');
    const missed = after === null ? [] : await source.outcomesAfter(jobId, after);
    return followJob(source, start, missed, this.feedOptions());
  }

  async followDataset(datasetId: string): Promise<AsyncIterableIterator<ProgressUpdate>> {
    assertCan(this.ctx.actor, 'tenant:read');
    const exists = await this.read((em) => em.count(Dataset, { id: datasetId }));
    if (!exists) throw new NotFoundError('Dataset');
    return followDataset(this.progressSource(), datasetId, this.feedOptions());
  }

  private feedOptions(): FeedOptions {
    const { actor, deps } = this.ctx;
    return { tenantId: actor.tenantId!, bus: deps.progress, readers: deps.topicReaders, pollMs: deps.ingestion.progressPollMs };
  }

  private progressSource(): ProgressSource {
    return {
      job: (jobId) => this.read(async (em) => {
        const job = await em.findOne(IngestionJob, { id: jobId });
        return job ? snapshotOf(job) : null;
      }),
      outcomesAfter: (jobId, sequence) =>
        this.read(async (em) =>
          (await em.find(IngestionItem, { job: jobId, sequence: { $gt: sequence } }, { orderBy: { sequence: 'asc', ordinal: 'asc' }, exclude: ['content'] })).map(outcomeOf),
        ),
      datasetJobs: (datasetId, since) =>
        this.read(async (em) =>
          (
            await em.find(IngestionJob, {
              dataset: datasetId,
              $or: [{ stage: { $in: ['QUEUED', 'PARSING', 'CHUNKING', 'INDEXING'] } }, { updatedAt: { $gte: since } }],
            }, { orderBy: { createdAt: 'asc' } })
          ).map(snapshotOf),
        ),
    };
  }

  /**
   * Subscriptions run outside the request transaction: each read gets a short transaction
   * of its own on a fresh fork bound to the same tenant (so RLS applies to it too).
   */
  private read<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    const em = this.ctx.em.fork({ clear: true }) as EntityManager;
    const session = tenantSessionOf(this.ctx.em);
    if (session) bindTenantSession(em, session);
    return em.transactional((tx) => work(tx as EntityManager));
  }

  private async lockedJob(jobId: string): Promise<IngestionJob> {
    const job = await lockJob(this.ctx.em, jobId);
    if (!job) throw new NotFoundError('Ingestion job');
    return job;
  }

  private publishAfterCommit(job: IngestionJob, previousSequence: number): void {
    const event = { snapshot: snapshotOf(job), previousSequence, outcomes: [] };
    const publish = () => this.ctx.deps.progress.publish(event);
    if (this.ctx.afterCommit) this.ctx.afterCommit(publish);
    else publish();
  }

  private async accept(files: readonly UploadedFile[], documents: readonly InlineDocument[]): Promise<AcceptedInput[]> {
    const limits = this.ctx.deps.ingestion;
    const count = files.length + documents.length;
    if (count === 0) throw new ValidationError('Give at least one file or document', { reason: 'NO_INPUT' });
    if (count > limits.maxFiles) {
      throw new ValidationError(`At most ${limits.maxFiles} files and documents per call (got ${count})`, { reason: 'TOO_MANY_FILES', max: limits.maxFiles });
    }
    const problems: { index: number; name: string; reason: string; message: string }[] = [];
    const accepted: AcceptedInput[] = [];
    const refuse = (index: number, name: string, error: unknown) => {
      if (!(error instanceof ValidationError)) throw error;
      problems.push({ index, name, reason: String(error.details.reason ?? 'INVALID'), message: error.message });
    };
    for (const [index, file] of files.entries()) {
      // A file's name names its document: cleaned like every title; a nameless file gets one.
      const fallback = `file-${index + 1}`;
      let name = titleFromContent(file.name) || fallback;
      try {
        name = displayName(oneLine(file.name) || fallback, `files.${index}.name`, TITLE_MAX, { reason: 'INVALID_NAME' });
        if (file.size > limits.maxFileBytes) throw tooLarge(name, file.size, limits.maxFileBytes);
        const format = detectFormat(name, file.type);
        const bytes = new Uint8Array(await file.arrayBuffer());
        accepted.push({ name, format, mimeType: MIME_OF[format], content: decodeUtf8(bytes, name), byteCount: bytes.byteLength, metadata: {} });
      } catch (error) {
        refuse(index, name, error);
      }
    }
    for (const [offset, document] of documents.entries()) {
      const index = files.length + offset;
      let name = titleFromContent(document.title ?? '') || `document-${offset + 1}`;
      try {
        name = displayName(document.title, `documents.${offset}.title`, TITLE_MAX, { reason: 'INVALID_TITLE' });
        const byteCount = Buffer.byteLength(document.text, 'utf8');
        if (byteCount > limits.maxFileBytes) throw tooLarge(name, byteCount, limits.maxFileBytes);
        assertTextual(document.text, name);
        const format = document.mimeType ? detectFormat(name, document.mimeType) : 'text';
        accepted.push({ name, format, mimeType: MIME_OF[format], content: document.text, byteCount, metadata: document.metadata ?? {} });
      } catch (error) {
        refuse(index, name, error);
      }
    }
    if (problems.length > 0) {
      throw new ValidationError(`${problems.length} of ${count} inputs refused: ${problems.map((p) => p.message).join('; ')}`, {
        reason: problems[0]!.reason,
        problems,
      });
    }
    const total = accepted.reduce((sum, input) => sum + input.byteCount, 0);
    if (total > limits.maxRequestBytes) {
      throw new ValidationError(`The inputs total ${total} bytes; at most ${limits.maxRequestBytes} per call`, { reason: 'REQUEST_TOO_LARGE', max: limits.maxRequestBytes });
    }
    return accepted;
  }
}

/**
 * The inputs as the job's items, with bound parameters: through the ORM each megabyte of text
 * would be inlined into the SQL one character at a time (see bound-sql.ts).
 */
async function storeInputs(em: EntityManager, tenantId: string, jobId: string, inputs: AcceptedInput[]): Promise<void> {
  for (const [ordinal, input] of inputs.entries()) {
    await boundSql(
      em,
      `insert into ingestion_items (id, tenant_id, job_id, ordinal, name, format, mime_type, content, metadata, byte_count)
       values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)`,
      [tenantId, jobId, ordinal, input.name, input.format, input.mimeType, input.content, JSON.stringify(input.metadata), input.byteCount],
    );
  }
}

function tooLarge(name: string, size: number, max: number): ValidationError {
  return new ValidationError(`${JSON.stringify(name)} is ${size} bytes; at most ${max} per file`, { reason: 'FILE_TOO_LARGE', name, max });
}
