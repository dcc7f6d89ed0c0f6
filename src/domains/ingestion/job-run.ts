/**
 * One run of an ingestion job by a worker: the job's stage transitions and what each stage
 * does to an input. PARSING checks an input (a parse failure or unchanged content settles it
 * for good; an input that can only add a document is left to CHUNKING unparsed, see
 * `parse`), CHUNKING writes its documents and chunks, INDEXING merges the search index's
 * pending entries, and the run ends the job. Inputs are settled in groups (item-groups.ts);
 * progress inside a group is credited as it happens (processed-bytes.ts).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import type { ProductMeter } from '../../platform/telemetry/product-metrics.js';
import type { DocumentParser, ParsedInput } from './document-parser.js';
import type { YieldCheck } from '../job-preemption.js';
import type { IngestionItem } from './ingestion-item.entity.js';
import type { IngestionJob } from './ingestion-job.entity.js';
import { ItemGroups, type GroupOptions, type GroupSettler, type InputHeader, type NextInput, type Settled } from './item-groups.js';
import { lockJob } from './job-lock.js';
import type { ChunkedDocument, HashedDocument, ParseFailure, ParseResult } from './parse-thread.js';
import { PARSED_DOCUMENTS_BUDGET, ParsedDocuments } from './parsed-documents.js';
import { soleSourceKey, type ParseInput } from './parsers/parse.js';
import { CHUNKED_SHARE, PARSED_SHARE, ProcessedBytes, WRITTEN_SHARE } from './processed-bytes.js';
import { snapshotOf, type JobSnapshot } from './progress.js';
import type { ProgressReporter } from './progress-reporter.js';
import { isTerminal, type IngestionStage } from './stages.js';
import type { WriteRate } from './write-rate.js';
import { documentHashes, writeDocuments, type DatasetChunkWriter } from './writer.js';

/** What PARSING makes of an input: its documents, why it failed, or the key of the one new document it can hold, left unparsed. */
export type ParsingResult = ParsedInput | { unparsed: string };

export class JobRun {
  /** What PARSING parsed, kept (within a budget of heap) so CHUNKING need not parse it again. */
  private readonly parsed = new ParsedDocuments(PARSED_DOCUMENTS_BUDGET);
  /**
   * Documents the job's inputs yield, in input order, up to the one PARSING is at: those of
   * inputs settled before (beginParsing) and those parsed since. The parser holds the job to
   * its bound with it (DocumentParser.jobRoomFor).
   */
  private documentsSoFar = 0;
  /**
   * Source keys that inputs checked before this one are still to write (PARSED). A later input
   * with such a key is written after them even when it matches what is stored now: settled
   * UNCHANGED here it let the earlier input win (test/ingestion/later-input-wins.test.ts).
   * Null when PARSING resumed with inputs PARSED before a crash, whose keys are not kept: then
   * no input is settled UNCHANGED here, and CHUNKING's write finds out (writeDocuments).
   */
  private keysToWrite: Set<string> | null = new Set();
  /** Ids of the pending inputs named after a document the dataset holds (beginParsing): of the inputs of one document named after them, only these can be unchanged (unparsedKey). */
  private namedAfterStored = new Set<string>();
  private readonly processed: ProcessedBytes;
  private readonly groups: ItemGroups;

  constructor(
    /** The job's tenant scope: every step is a transaction of its own in it. */
    private readonly scope: TenantScope,
    private readonly jobId: string,
    private readonly reporter: ProgressReporter,
    private readonly parser: DocumentParser,
    /** Estimates how far a running chunk INSERT has got: progress moves during a large file's write. */
    readonly writeRate: WriteRate,
    meter?: Pick<ProductMeter, 'ingestedInput'>,
  ) {
    this.processed = new ProcessedBytes(scope, jobId, reporter);
    this.groups = new ItemGroups(scope, jobId, reporter, this.processed, meter);
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

  /** Settles the job's items in `status`, a group at a time, or two at once with `keysOf` (item-groups.ts). */
  eachItem<T>(
    status: 'PENDING' | 'PARSED',
    prepare: (next: NextInput) => Promise<T>,
    open: (tx: EntityManager, job: IngestionJob, yieldCheck: YieldCheck) => GroupSettler<T>,
    options?: GroupOptions<T>,
  ): Promise<Settled> {
    return this.groups.settleEach(status, prepare, open, options);
  }

  /**
   * The key of the one new document an input can hold, when PARSING leaves it unparsed: its
   * format gives it one document named after it (soleSourceKey), a key the dataset does not
   * hold, so it cannot be unchanged. Decided from the input's name and format alone, before its
   * content is read: PARSING reads only the content of inputs this gives null for.
   */
  unparsedKey(header: InputHeader): string | null {
    const key = soleSourceKey(header, header.options);
    return key !== null && !this.namedAfterStored.has(header.id) ? key : null;
  }

  /**
   * PARSING, in a thread: the input's documents (kept for CHUNKING within a budget), or why it
   * failed. An input with an `unparsedKey` is not read or parsed here but in CHUNKING, once,
   * while other groups are written (issue 19: parsing the 20 MB benchmark job first, with
   * PostgreSQL idle, was a fifth of its time). Its parse failure, if any, is settled there.
   */
  async parse(next: NextInput): Promise<ParsingResult> {
    const key = this.unparsedKey(next);
    if (key !== null) {
      // One document, the job's room for it known without parsing.
      const parsed = this.parser.jobRoomFor(this.documentsSoFar) >= 1 ? { unparsed: key } : { failure: this.parser.overJobLimit(next.name) };
      if ('unparsed' in parsed) this.documentsSoFar += 1;
      this.processed.credit(next.id, next.byteCount * PARSED_SHARE);
      return parsed;
    }
    const parsed = await this.parser.parse(contentOf(next), next.options, this.documentsSoFar);
    if ('documents' in parsed) {
      this.documentsSoFar += parsed.documents.length;
      this.parsed.keep(next.id, parsed.documents, parsed.heapBytes);
    }
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
    const chunked = await this.parser.chunk(kept ? { documents: kept, chunking: next.options.chunking } : { input: contentOf(next), options: next.options }, credit);
    credit(1);
    chunking = false;
    return chunked;
  }

  /**
   * Before PARSING checks its first input: whether inputs were PARSED by an earlier run of the
   * job (see keysToWrite), how many documents the inputs settled so far yield (an input left
   * unparsed counts its one: `check`), and which pending inputs are named after a stored
   * document (see parse). One dataset's jobs run one at a time, so no document is added
   * meanwhile; were one added, CHUNKING's write would still find it unchanged (writeDocuments
   * compares hashes).
   */
  async beginParsing(): Promise<void> {
    const { resumed, documents, named } = await this.scope.read(async (tx) => {
      const [row] = await boundSql<{ resumed: boolean; documents: number }>(
        tx,
        `select exists (select 1 from ingestion_items where job_id = ? and status = 'PARSED') as resumed,
                (select coalesce(sum(greatest(document_count, 1)), 0)::int from ingestion_items where job_id = ? and status in ('PARSED', 'DONE')) as documents`,
        [this.jobId, this.jobId],
      );
      const rows = await boundSql<{ id: string }>(
        tx,
        `select i.id from ingestion_items i join ingestion_jobs j on j.id = i.job_id
          where i.job_id = ? and i.status = 'PENDING'
            and exists (select 1 from documents d where d.dataset_id = j.dataset_id and d.source_key = i.name)`,
        [this.jobId],
      );
      return { resumed: row?.resumed ?? false, documents: row?.documents ?? 0, named: rows.map((item) => item.id) };
    });
    this.keysToWrite = resumed ? null : new Set();
    this.documentsSoFar = documents;
    this.namedAfterStored = new Set(named);
  }

  /**
   * PARSING: a parse failure fails the input alone, for good; content already stored is settled
   * as UNCHANGED, unless an earlier input of the job is still to write one of its documents.
   */
  async check(tx: EntityManager, job: IngestionJob, item: IngestionItem, parsed: ParsingResult): Promise<void> {
    if ('failure' in parsed) return failed(item, parsed.failure);
    if ('unparsed' in parsed) {
      // Its one document, counted toward the job's bound should PARSING resume (beginParsing).
      Object.assign(item, { status: 'PARSED', documentCount: 1 });
      this.keysToWrite?.add(parsed.unparsed);
      return;
    }
    const { documents } = parsed;
    item.documentCount = documents.length;
    const keys = documents.map((document) => document.sourceKey);
    const written = this.keysToWrite;
    const unchanged = written !== null && !keys.some((key) => written.has(key)) && (await storedAlready(tx, job.dataset.id, documents));
    if (unchanged) {
      Object.assign(item, { status: 'DONE', outcome: 'UNCHANGED', chunkCount: 0 });
      this.parsed.take(item.id);
    } else {
      item.status = 'PARSED';
      for (const key of keys) written?.add(key);
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
    // The job's chunksDone counts it when the group settles (item-groups.ts).
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

/** The input with its content: read for every input a stage does not prepare from its header (item-groups.ts `needsContent`). */
function contentOf(next: NextInput): ParseInput {
  if (!next.input) throw new Error(`ingestion input ${next.id} was read without its content`);
  return next.input;
}

function failed(item: IngestionItem, failure: ParseFailure): void {
  Object.assign(item, { status: 'FAILED', error: failure.message, errorReason: failure.reason });
}

/** Whether every document is stored in the dataset with the same content already. */
async function storedAlready(tx: EntityManager, datasetId: string, documents: HashedDocument[]): Promise<boolean> {
  const stored = await documentHashes(tx, datasetId, documents.map((document) => document.sourceKey));
  return documents.every((document) => stored.get(document.sourceKey) === document.hash);
}
