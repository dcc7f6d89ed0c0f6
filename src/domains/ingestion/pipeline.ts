/**
 * The worker's side of a job: PARSING checks every pending input (parse errors and unchanged
 * content are settled here, and cost nothing later), CHUNKING splits and writes the rest,
 * INDEXING merges the search index's pending entries, then the job ends.
 *
 * Every input is settled in a transaction of its own that also updates the job and dataset
 * counters: a worker that dies mid-input loses only that input's uncommitted work, and the
 * job resumes from the inputs still pending, so the dataset ends with exactly its chunks.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { bindTenantSession } from '../../db/tenant-session.js';
import { DomainError } from '../errors.js';
import { IngestionItem } from './ingestion-item.entity.js';
import { IngestionJob } from './ingestion-job.entity.js';
import type { ChunkingOptions } from './options.js';
import { parseDocuments } from './parsers/parse.js';
import type { Format } from './parsers/formats.js';
import { outcomeOf, snapshotOf, type ProgressBus } from './progress.js';
import { ProgressReporter } from './progress-reporter.js';
import type { IngestPayload } from './queue.js';
import { isTerminal, type IngestionStage } from './stages.js';
import { lockJob } from './job-lock.js';
import { documentHashes, writeDocuments, type HashedDocument } from './writer.js';

/** 16 M characters of parsed text (16 MB for Latin-1 text, 32 MB beyond) kept between PARSING and CHUNKING; see ParsedDocuments. */
const PARSED_CACHE_CHARS = 16 * 1024 * 1024;

export interface PipelineDependencies {
  /** An EntityManager of the app role; each job forks it and binds the job's tenant. */
  em: EntityManager;
  progress: ProgressBus;
  progressIntervalMs: number;
}

type Settled = 'settled' | 'stopped';

export async function runIngestionJob(deps: PipelineDependencies, payload: IngestPayload): Promise<void> {
  const em = deps.em.fork({ clear: true }) as EntityManager;
  bindTenantSession(em, { tenantId: payload.tenantId, userId: null });
  const start = await em.transactional(async (tx) => {
    const job = await tx.findOne(IngestionJob, { id: payload.jobId });
    if (!job || isTerminal(job.stage)) return null;
    job.attempts += 1;
    job.startedAt ??= new Date();
    return snapshotOf(job);
  });
  if (!start) return;
  const reporter = new ProgressReporter(deps.progress, deps.progressIntervalMs, start);
  try {
    const run = new JobRun(em, payload.jobId, reporter);
    if (!(await run.enter('PARSING'))) return;
    if ((await run.eachItem('PENDING', (tx, job, item) => run.check(tx, job, item))) === 'stopped') return;
    if (!(await run.enter('CHUNKING'))) return;
    if ((await run.eachItem('PARSED', (tx, job, item) => run.index(tx, job, item))) === 'stopped') return;
    if (!(await run.enter('INDEXING'))) return;
    await run.finish();
  } finally {
    reporter.flush();
  }
}

class JobRun {
  /** What PARSING parsed, kept (within a budget) so CHUNKING need not parse it again. */
  private readonly parsed = new ParsedDocuments(PARSED_CACHE_CHARS);

  constructor(
    private readonly em: EntityManager,
    private readonly jobId: string,
    private readonly reporter: ProgressReporter,
  ) {}

  /** Moves the job to `stage` (unless it is already there or beyond); false if it was cancelled or deleted. */
  async enter(stage: IngestionStage): Promise<boolean> {
    const order: IngestionStage[] = ['QUEUED', 'PARSING', 'CHUNKING', 'INDEXING'];
    const entered = await this.em.transactional(async (tx) => {
      const job = await this.lock(tx);
      if (!job || isTerminal(job.stage)) return false;
      if (order.indexOf(job.stage) >= order.indexOf(stage)) return true;
      job.stage = stage;
      job.sequence += 1;
      await tx.flush();
      return snapshotOf(job);
    });
    // Published after the commit: an event never runs ahead of the database.
    if (typeof entered === 'object') this.reporter.record(entered);
    return entered !== false;
  }

  /** Settles the job's items in `status`, one transaction each, in order. */
  async eachItem(status: 'PENDING' | 'PARSED', settle: (tx: EntityManager, job: IngestionJob, item: IngestionItem) => Promise<void>): Promise<Settled> {
    for (;;) {
      const outcome = await this.em.transactional(async (tx) => {
        const job = await this.lock(tx);
        if (!job || isTerminal(job.stage)) return 'stopped' as const;
        const item = await tx.findOne(IngestionItem, { job: this.jobId, status }, { orderBy: { ordinal: 'asc' }, refresh: true });
        if (!item) return 'done' as const;
        await settle(tx, job, item);
        job.sequence += 1;
        if (item.status !== 'PARSED') {
          item.sequence = job.sequence;
          item.finishedAt = new Date();
          job.documentsDone += 1;
          job.bytesDone += item.byteCount;
          if (item.status === 'FAILED') job.documentsFailed += 1;
          else item.content = null;
        }
        await tx.flush();
        return { snapshot: snapshotOf(job), outcomes: item.status === 'PARSED' ? [] : [outcomeOf(item)] };
      });
      if (outcome === 'stopped') return 'stopped';
      if (outcome === 'done') return 'settled';
      this.reporter.record(outcome.snapshot, outcome.outcomes);
    }
  }

  /** PARSING: a parse error fails the input alone; content already stored is settled as UNCHANGED. */
  async check(tx: EntityManager, job: IngestionJob, item: IngestionItem): Promise<void> {
    const documents = this.parse(job, item);
    if (!documents) return;
    item.documentCount = documents.length;
    const stored = await documentHashes(tx, job.dataset.id, documents.map((document) => document.sourceKey));
    const unchanged = documents.every((document) => stored.get(document.sourceKey) === document.hash);
    if (unchanged) {
      Object.assign(item, { status: 'DONE', outcome: 'UNCHANGED', chunkCount: 0 });
      this.parsed.take(item.id);
    } else {
      item.status = 'PARSED';
    }
  }

  /** CHUNKING: writes the input's documents and their chunks, replacing changed ones. */
  async index(tx: EntityManager, job: IngestionJob, item: IngestionItem): Promise<void> {
    const documents = this.parse(job, item);
    if (!documents) return;
    const written = await writeDocuments(tx, { job, item, documents });
    job.chunksDone += written.chunks;
    Object.assign(item, { status: 'DONE', outcome: written.outcome, chunkCount: written.chunks, documentCount: documents.length });
  }

  async finish(): Promise<void> {
    const finished = await this.em.transactional(async (tx) => {
      const job = await this.lock(tx);
      if (!job || isTerminal(job.stage)) return undefined;
      // Bulk inserts park new entries in the GIN index's pending list; merging them now keeps
      // the first searches after a big ingestion fast.
      await tx.getConnection().execute('select ingest_merge_search_index()', [], 'run', tx.getTransactionContext());
      const allFailed = job.documentsFailed === job.documentsTotal;
      Object.assign(job, {
        stage: allFailed ? 'FAILED' : 'COMPLETED',
        error: allFailed ? 'Every input failed; see the document outcomes' : null,
        finishedAt: new Date(),
        sequence: job.sequence + 1,
      });
      await tx.flush();
      return snapshotOf(job);
    });
    if (finished) this.reporter.record(finished);
  }

  private parse(job: IngestionJob, item: IngestionItem): HashedDocument[] | undefined {
    const cached = this.parsed.take(item.id);
    if (cached) return cached;
    let documents: HashedDocument[];
    try {
      documents = parseDocuments(
        { name: item.name, format: item.format as Format, content: item.content ?? '', metadata: item.metadata },
        job.options,
      ).map((document) => ({ ...document, hash: hashOf(document.text, document.title, document.metadata, job.options.chunking) }));
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      Object.assign(item, { status: 'FAILED', error: error.message });
      return undefined;
    }
    this.parsed.keep(item.id, documents);
    return documents;
  }

  private lock(tx: EntityManager): Promise<IngestionJob | null> {
    return lockJob(tx, this.jobId);
  }
}

/**
 * Parsed documents by item, up to a budget of characters: a job larger than the budget parses
 * its later inputs twice rather than holding the whole corpus in memory. Each entry is taken
 * once (CHUNKING uses it and lets it go).
 */
class ParsedDocuments {
  private readonly entries = new Map<string, HashedDocument[]>();
  private chars = 0;

  constructor(private readonly budget: number) {}

  keep(itemId: string, documents: HashedDocument[]): void {
    const size = documents.reduce((sum, document) => sum + document.text.length, 0);
    if (this.chars + size > this.budget) return;
    this.entries.set(itemId, documents);
    this.chars += size;
  }

  take(itemId: string): HashedDocument[] | undefined {
    const documents = this.entries.get(itemId);
    if (!documents) return undefined;
    this.entries.delete(itemId);
    this.chars -= documents.reduce((sum, document) => sum + document.text.length, 0);
    return documents;
  }
}

/** What makes a stored document current: its text, title, metadata and how it was chunked. */
function hashOf(text: string, title: string, metadata: Record<string, unknown>, chunking: ChunkingOptions): string {
  return createHash('sha256').update(JSON.stringify([chunking.size, chunking.overlap, title, metadata])).update('\n').update(text).digest('hex');
}
