/**
 * The worker's side of a job: PARSING checks every pending input (parse errors and unchanged
 * content are settled here, and cost nothing later), CHUNKING splits and writes the rest,
 * INDEXING merges the search index's pending entries, EMBEDDING (for a dataset with an
 * embedding model: embedding-stage.ts) gives the chunks without a vector one, then the job
 * ends. A re-embed job (kind REEMBED) has no inputs and runs EMBEDDING alone.
 *
 * Inputs are settled in groups (GROUP_ITEMS, GROUP_BYTES), each in one transaction that also
 * updates the job and dataset counters: a worker that dies mid-group loses only that group's
 * uncommitted work, and the job resumes from the inputs still pending, so the dataset ends
 * with exactly its chunks. Progress inside a group (inputs parsed, a large one's text chunked
 * and its chunks written) is credited as it happens: processed-bytes.ts.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Orm } from '../../db/orm.js';
import { TenantScope } from '../../db/tenant-scope.js';
import type { DocumentParser } from './document-parser.js';
import { EmbeddingStage, type EmbedderFactory } from './embedding-stage.js';
import { IngestionItem } from './ingestion-item.entity.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { storedIngestionOptions, type IngestionOptions } from './options.js';
import type { ChunkedDocument, HashedDocument, ParseFailure, ParseResult } from './parse-thread.js';
import type { Format } from './parsers/formats.js';
import type { ParseInput } from './parsers/parse.js';
import { outcomeOf, snapshotOf, type JobSnapshot, type ProgressBus } from './progress.js';
import { ProgressReporter } from './progress-reporter.js';
import { CHUNKED_SHARE, PARSED_SHARE, ProcessedBytes, WRITTEN_SHARE } from './processed-bytes.js';
import type { IngestPayload } from './queue.js';
import { isTerminal, type IngestionStage } from './stages.js';
import { lockJob } from './job-lock.js';
import { boundSql } from '../../db/bound-sql.js';
import { DatasetChunkWriter, documentHashes, writeDocuments } from './writer.js';
import { WriteRate } from './write-rate.js';
import type { ProductMeter } from '../../platform/telemetry/product-metrics.js';

/** 16 M characters of parsed text (16 MB for Latin-1 text, 32 MB beyond) kept between PARSING and CHUNKING; see ParsedDocuments. */
const PARSED_CACHE_CHARS = 16 * 1024 * 1024;

export interface PipelineDependencies {
  /** The app role's ORM: each job opens a tenant scope on it for the job's tenant. */
  orm: Orm;
  progress: ProgressBus;
  progressIntervalMs: number;
  /** Parses and chunks in worker threads, within a time and memory budget per input. */
  parser: DocumentParser;
  /** Embeds with a dataset's embedding model (its key opened, usage priced). */
  embedders: EmbedderFactory;
  /** Counts each settled input's bytes, documents and chunks for `/metrics`; absent: not counted. */
  meter?: Pick<ProductMeter, 'ingestedInput'>;
  /** The worker's chunk INSERT rate, learned across its jobs (write-rate.ts); absent: learned per job. */
  writeRate?: WriteRate;
}

/** An input about to be parsed, read in a short transaction of its own. */
interface NextInput {
  id: string;
  byteCount: number;
  input: ParseInput;
  options: IngestionOptions;
}

type Settled = 'settled' | 'stopped';

/** Settles the items of one group inside its transaction; `finish` runs after the last one. */
interface GroupSettler<T> {
  settle(item: IngestionItem, prepared: T): Promise<void>;
  finish(): Promise<void>;
}

/**
 * Inputs settled together in one transaction: up to this many, and this much input (a larger
 * input is a group alone). Their chunks share INSERTs, so the BM25 statistics trigger upserts
 * the group's distinct lexemes once instead of each input's (issue 19: 39 files of the
 * benchmark corpus hold 29 000 distinct lexemes, one holds 12 000), and the group pays one
 * transaction's round trips instead of one per input. Outcomes come per group; progress inside
 * it as each input is parsed and chunked, and as a large one's chunks are written (processed-bytes.ts).
 */
const GROUP_ITEMS = 32;
const GROUP_BYTES = 8 * 1024 * 1024;

/** Runs the job on from where it is; resolves to how it ended (COMPLETED or FAILED), or null if it stopped short (cancelled, deleted, already ended). */
export async function runIngestionJob(deps: PipelineDependencies, payload: IngestPayload): Promise<JobSnapshot | null> {
  const scope = TenantScope.open(deps.orm, { tenantId: payload.tenantId, userId: null });
  try {
    return await runInScope(scope, deps, payload);
  } finally {
    scope.close();
  }
}

async function runInScope(scope: TenantScope, deps: PipelineDependencies, payload: IngestPayload): Promise<JobSnapshot | null> {
  const start = await scope.write(async (tx) => {
    const job = await tx.findOne(IngestionJob, { id: payload.jobId });
    if (!job || isTerminal(job.stage)) return null;
    job.attempts += 1;
    job.startedAt ??= new Date();
    return snapshotOf(job);
  });
  if (!start) return null;
  const reporter = new ProgressReporter(deps.progress, deps.progressIntervalMs, start);
  try {
    const run = new JobRun(scope, payload.jobId, reporter, deps.parser, deps.writeRate ?? new WriteRate(), deps.meter);
    // A job resumed in EMBEDDING has settled its inputs already.
    if (start.kind === 'INGEST' && start.stage !== 'EMBEDDING') {
      if (!(await run.enter('PARSING'))) return null;
      const parsing = await run.eachItem('PENDING', (next) => run.parse(next), (tx, job) => ({
        settle: (item, parsed) => run.check(tx, job, item, parsed),
        finish: async () => {},
      }));
      if (parsing === 'stopped') return null;
      if (!(await run.enter('CHUNKING'))) return null;
      const chunking = await run.eachItem('PARSED', (next) => run.chunk(next), (tx, job) => {
        const chunks = new DatasetChunkWriter(tx, job.tenant.id, job.dataset.id, run.writeRate);
        return { settle: (item, chunked) => run.index(tx, job, item, chunked, chunks), finish: () => chunks.finish() };
      });
      if (chunking === 'stopped') return null;
      if (!(await run.enter('INDEXING'))) return null;
      if (!(await run.mergeSearchIndex())) return null;
    }
    const embedding = await new EmbeddingStage(scope, payload.jobId, reporter, deps.embedders).run();
    if (embedding !== 'done') return null;
    return (await run.finish()) ?? null;
  } finally {
    reporter.flush();
  }
}

class JobRun {
  /** What PARSING parsed, kept (within a budget) so CHUNKING need not parse it again. */
  private readonly parsed = new ParsedDocuments(PARSED_CACHE_CHARS);
  private readonly processed: ProcessedBytes;

  constructor(
    /** The job's tenant scope: every step is a transaction of its own in it. */
    private readonly scope: TenantScope,
    private readonly jobId: string,
    private readonly reporter: ProgressReporter,
    private readonly parser: DocumentParser,
    /** Estimates how far a running chunk INSERT has got: progress moves during a large file's write. */
    readonly writeRate: WriteRate,
    private readonly meter?: Pick<ProductMeter, 'ingestedInput'>,
  ) {
    this.processed = new ProcessedBytes(scope, jobId, reporter);
  }

  /** Moves the job to `stage` (unless it is already there or beyond); false if it was cancelled or deleted. */
  async enter(stage: IngestionStage): Promise<boolean> {
    const order: IngestionStage[] = ['QUEUED', 'PARSING', 'CHUNKING', 'INDEXING', 'EMBEDDING'];
    const entered = await this.scope.write(async (tx) => {
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

  /**
   * Settles the job's items in `status`, in order, a group at a time: the group is read, each
   * of its items prepared (parsed or chunked in a thread, outside any transaction: a slow input
   * holds no lock and no connection), then all of them settled in one transaction with the
   * job's counters. A worker that dies mid-group loses that group's uncommitted work only; the
   * job resumes from the items still in `status`.
   */
  async eachItem<T>(
    status: 'PENDING' | 'PARSED',
    prepare: (next: NextInput) => Promise<T>,
    open: (tx: EntityManager, job: IngestionJob) => GroupSettler<T>,
  ): Promise<Settled> {
    await this.processed.load();
    for (;;) {
      const group = await this.nextGroup(status);
      if (group === 'stopped') return 'stopped';
      if (group === 'done') return 'settled';
      const prepared: { next: NextInput; value: T }[] = [];
      for (const next of group) prepared.push({ next, value: await prepare(next) });
      await this.processed.settling();
      const outcome = await this.scope.write(async (tx) => {
        // KEY SHARE: cancel and retry wait for the group, progress steps of its writes do not (processed-bytes.ts).
        const job = await lockJob(tx, this.jobId, 'key share');
        if (!job || isTerminal(job.stage)) return 'stopped' as const;
        const settler = open(tx, job);
        const items = await tx.find(IngestionItem, { id: { $in: group.map((next) => next.id) }, status }, { refresh: true });
        const byId = new Map(items.map((item) => [item.id, item]));
        const settled: IngestionItem[] = [];
        for (const { next, value } of prepared) {
          // Gone from `status`: another worker settled it meanwhile.
          const item = byId.get(next.id);
          if (!item) continue;
          await settler.settle(item, value);
          settled.push(item);
        }
        await settler.finish();
        // Counted once every write is done: a progress step taken during the writes has a lower
        // sequence than every outcome here, and counts from the job's committed bytes.
        const outcomes = [];
        const bytes: number[] = []; // each outcome's input bytes, for /metrics
        let parsedDelta = 0; // bytes of inputs that became PARSED (PARSING) or left it (CHUNKING)
        for (const item of settled) {
          job.sequence += 1;
          if (item.status === 'PARSED' && status === 'PENDING') parsedDelta += item.byteCount;
          if (item.status !== 'PARSED' && status === 'PARSED') parsedDelta -= item.byteCount;
          if (item.status !== 'PARSED') {
            item.sequence = job.sequence;
            item.finishedAt = new Date();
            job.documentsDone += 1;
            job.bytesDone += item.byteCount;
            if (item.status === 'FAILED') job.documentsFailed += 1;
            else item.content = null;
            outcomes.push(outcomeOf(item));
            bytes.push(item.byteCount);
          }
        }
        const processed = this.processed.settle(job, parsedDelta);
        await tx.flush();
        return { snapshot: snapshotOf(job), outcomes, bytes, parsedDelta, processed };
      });
      // A step of this group's writes still being saved goes out before the group's outcomes.
      await this.processed.settling();
      if (outcome === 'stopped') return 'stopped';
      this.processed.settled(outcome.parsedDelta);
      // Counted once committed: a transaction that retried or rolled back counts nothing.
      for (const [index, settled] of outcome.outcomes.entries()) {
        this.meter?.ingestedInput(settled.status === 'FAILED' ? 'FAILED' : (settled.outcome ?? 'OTHER'), { bytes: outcome.bytes[index]!, documents: settled.documents, chunks: settled.chunks });
      }
      // An input only PARSED has no outcome yet (it comes in CHUNKING): an event for it only if
      // it moved the job's processed bytes on.
      if (outcome.outcomes.length > 0 || outcome.processed) this.reporter.record(outcome.snapshot, outcome.outcomes);
    }
  }

  /**
   * The next items in `status`, in order: as many as fit in GROUP_BYTES of input (at least
   * one) and GROUP_ITEMS, or why there are none.
   */
  private nextGroup(status: 'PENDING' | 'PARSED'): Promise<NextInput[] | 'stopped' | 'done'> {
    return this.scope.write(async (tx) => {
      const job = await tx.findOne(IngestionJob, { id: this.jobId }, { refresh: true });
      if (!job || isTerminal(job.stage)) return 'stopped' as const;
      const sizes = await boundSql<{ id: string; byte_count: number }>(
        tx,
        'select id, byte_count from ingestion_items where job_id = ? and status = ? order by ordinal limit ?',
        [this.jobId, status, GROUP_ITEMS],
      );
      if (sizes.length === 0) return 'done' as const;
      let bytes = 0;
      const ids = sizes.filter((row, index) => (bytes += row.byte_count) <= GROUP_BYTES || index === 0).map((row) => row.id);
      const items = await tx.find(IngestionItem, { id: { $in: ids } }, { orderBy: { ordinal: 'asc' }, refresh: true });
      return items.map((item) => ({
        id: item.id,
        byteCount: item.byteCount,
        input: { name: item.name, format: item.format as Format, content: item.content ?? '', metadata: item.metadata },
        options: storedIngestionOptions(job.options),
      }));
    });
  }

  /** PARSING, in a thread: the input's documents (kept for CHUNKING within a budget), or why it failed. */
  async parse(next: NextInput): Promise<ParseResult<HashedDocument>> {
    const parsed = await this.parser.parse(next.input, next.options);
    if ('documents' in parsed) this.parsed.keep(next.id, parsed.documents);
    this.processed.credit(next.id, next.byteCount * PARSED_SHARE);
    return parsed;
  }

  /** CHUNKING, in a thread: from the documents PARSING kept, else from the input again; a large input's progress credited as it goes. */
  async chunk(next: NextInput): Promise<ParseResult<ChunkedDocument>> {
    const kept = this.parsed.take(next.id);
    let chunking = true;
    const credit = (fraction: number) => {
      // A step the thread posted just before it finished may arrive after the result.
      if (chunking) this.processed.credit(next.id, next.byteCount * CHUNKED_SHARE * Math.min(1, fraction));
    };
    const chunked = await this.parser.chunk(kept ? { documents: kept, chunking: next.options.chunking } : { input: next.input, options: next.options }, credit);
    credit(1);
    chunking = false;
    return chunked;
  }

  /** PARSING: a parse failure fails the input alone, for good; content already stored is settled as UNCHANGED. */
  async check(tx: EntityManager, job: IngestionJob, item: IngestionItem, parsed: ParseResult<HashedDocument>): Promise<void> {
    if ('failure' in parsed) return failed(item, parsed.failure);
    const { documents } = parsed;
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
  async index(tx: EntityManager, job: IngestionJob, item: IngestionItem, chunked: ParseResult<ChunkedDocument>, chunks: DatasetChunkWriter): Promise<void> {
    if ('failure' in chunked) return failed(item, chunked.failure);
    const { documents } = chunked;
    // A large input's progress through its chunk INSERTs, a step of the job's until the commit settles it.
    const written = await writeDocuments(tx, { item, documents }, chunks, (fraction) =>
      this.processed.written(job, item.id, item.byteCount * (CHUNKED_SHARE + WRITTEN_SHARE * fraction)),
    );
    job.chunksDone += written.chunks;
    Object.assign(item, { status: 'DONE', outcome: written.outcome, chunkCount: written.chunks, documentCount: documents.length });
  }

  /** INDEXING: false if the job was cancelled or deleted. */
  async mergeSearchIndex(): Promise<boolean> {
    return this.scope.write(async (tx) => {
      const job = await this.lock(tx);
      if (!job || isTerminal(job.stage)) return false;
      // Bulk inserts park new entries in the GIN index's pending list; merging them now keeps
      // the first searches after a big ingestion fast.
      await tx.getConnection().execute('select ingest_merge_search_index()', [], 'run', tx.getTransactionContext());
      return true;
    });
  }

  /** Ends the job COMPLETED, or FAILED when every input failed; its final snapshot (undefined if it had ended already). */
  async finish(): Promise<JobSnapshot | undefined> {
    const finished = await this.scope.write(async (tx) => {
      const job = await this.lock(tx);
      if (!job || isTerminal(job.stage)) return undefined;
      const allFailed = job.documentsTotal > 0 && job.documentsFailed === job.documentsTotal;
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
    return finished;
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

function failed(item: IngestionItem, failure: ParseFailure): void {
  Object.assign(item, { status: 'FAILED', error: failure.message, errorReason: failure.reason });
}

/**
 * The queue gave up on the job (its attempts are spent): the job ends FAILED with `message`,
 * and its subscribers hear it. A job that ended meanwhile is left as it is.
 */
export async function failIngestionJob(deps: Pick<PipelineDependencies, 'orm' | 'progress'>, payload: IngestPayload, message: string): Promise<void> {
  const scope = TenantScope.open(deps.orm, { tenantId: payload.tenantId, userId: null });
  const ended = await scope.write(async (tx) => {
    const job = await lockJob(tx, payload.jobId);
    if (!job || isTerminal(job.stage)) return undefined;
    Object.assign(job, { stage: 'FAILED', error: message.slice(0, 2000), finishedAt: new Date(), sequence: job.sequence + 1 });
    await tx.flush();
    return snapshotOf(job);
  });
  scope.close();
  if (ended) deps.progress.publish({ snapshot: ended, previousSequence: ended.sequence - 1, outcomes: [] });
}
