/**
 * Reading progress: a job, a dataset's jobs and a job's inputs as they stand (queries), and
 * live progress of a job or a dataset (subscriptions, through the shared topic readers of
 * progress-feed.ts). Starting jobs is accept-input.service.ts; cancelling and retrying them,
 * job-commands.service.ts.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { findByIds } from '../lookup.js';
import { Dataset } from '../datasets/dataset.entity.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { assertCan } from '../access/permissions.js';
import { keysetPage, type Page, type PageRequest } from '../pagination.js';
import type { ServiceContext } from '../service-context.js';
import { IngestionItem } from './ingestion-item.entity.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { followDataset, followJob, type FeedOptions, type ProgressSource } from './progress-feed.js';
import { outcomeOf, snapshotOf, type ItemSummary, type ProgressUpdate } from './progress.js';
import { TERMINAL_STAGES } from './stages.js';

export class ProgressReaderService {
  /** A list of jobs with their inputs (the console's job history) reads the inputs of all of them in one statement. */
  private readonly itemsOfJobs = new DataLoader<string, ItemSummary[]>(async (jobIds) => {
    const items = await this.ctx.em.find(IngestionItem, { job: { $in: [...jobIds] } }, { orderBy: { ordinal: 'asc' }, exclude: ['content'] });
    const byJob = new Map<string, ItemSummary[]>();
    for (const item of items) byJob.set(item.job.id, [...(byJob.get(item.job.id) ?? []), item]);
    return jobIds.map((jobId) => byJob.get(jobId) ?? []);
  });

  constructor(private readonly ctx: ServiceContext) {}

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
    return this.itemsOfJobs.load(jobId);
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
    const { scope } = this.ctx;
    return {
      get open() {
        return !scope.closed;
      },
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
              // Every job not yet in a terminal stage (EMBEDDING included: it was missed until its next step).
              $or: [{ stage: { $nin: [...TERMINAL_STAGES] } }, { updatedAt: { $gte: since } }],
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
    return this.ctx.scope.read(work);
  }
}
