/**
 * A job's inputs settled a group at a time (PARSING and CHUNKING alike): the group is read,
 * each of its inputs prepared outside any transaction (parsed or chunked in a thread: a slow
 * input holds no lock and no connection), then the whole group settled in one transaction
 * that also updates the job's counters. A worker that dies mid-group loses that group's
 * uncommitted work only; the job resumes from the inputs still in the status.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql, pgArray } from '../../db/bound-sql.js';
import type { TenantScope } from '../../db/tenant-scope.js';
import type { ProductMeter } from '../../platform/telemetry/product-metrics.js';
import { awaitYieldedTo, YieldCheck, YieldToRequest } from '../job-preemption.js';
import { IngestionItem } from './ingestion-item.entity.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { DEFAULT_GROUP_ROWS } from './ingestion-limits.js';
import { lockJob } from './job-lock.js';
import { storedIngestionOptions, type IngestionOptions } from './options.js';
import type { Format } from './parsers/formats.js';
import type { ParseInput } from './parsers/parse.js';
import type { ProcessedBytes } from './processed-bytes.js';
import { outcomeOf, snapshotOf, type DocumentOutcome, type JobSnapshot } from './progress.js';
import type { ProgressReporter } from './progress-reporter.js';
import { isTerminal } from './stages.js';

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

/** An input about to be prepared, without its content: what a stage may decide from (see `needsContent`). */
export interface InputHeader {
  id: string;
  ordinal: number;
  byteCount: number;
  name: string;
  format: Format;
  options: IngestionOptions;
}

/** An input about to be prepared, read in a short transaction of its own. */
export interface NextInput extends InputHeader {
  /** Null when the stage said it does not read this input's content (`needsContent`). */
  input: ParseInput | null;
}

/** How a stage's groups are settled beyond its `prepare` and settler. */
export interface GroupOptions<T> {
  /** The source keys a prepared item writes: with it, up to SETTLING_LANES groups at once. */
  keysOf?: (prepared: T) => string[];
  /**
   * Whether `prepare` reads this input's content; without it, every input's. A group's content
   * is most of what reading it costs (8 MB for a full group), so an input prepared from its name
   * and format alone is read without it (issue 19: PARSING leaves new files to CHUNKING).
   */
  needsContent?: (header: InputHeader) => boolean;
  /**
   * The rows a prepared input writes (its documents and chunks): a group stops before the input
   * that would take it past `maxRows` (DEFAULT_GROUP_ROWS, ingestion-limits.ts, unless told),
   * which then starts the next group.
   */
  rowsOf?: (prepared: T) => number;
  maxRows?: number;
}

/** Settles the items of one group inside its transaction; `finish` runs after the last one. */
export interface GroupSettler<T> {
  settle(item: IngestionItem, prepared: T): Promise<void>;
  finish(): Promise<void>;
}

export type Settled = 'settled' | 'stopped';

/**
 * Groups being settled at once when the stage allows it (CHUNKING): while groups' transactions
 * write, the next group is read and prepared, and its transaction starts as soon as a lane is
 * free: when either group in flight settles, the older or the newer (waiting for the older
 * alone left a lane idle while it ran its statistics, about a tenth of the 20 MB benchmark's
 * time). PostgreSQL then inserts one group's rows and index entries while it runs another's
 * BM25 statistics: the statistics trigger takes the dataset's row before any term, so they go one
 * transaction at a time (Migration20261204140000_statistics_lock_order), and the rows do not
 * wait. Two groups never hold a source key in common: a group with a key of the one in flight
 * waits for it, so the later input still wins.
 */
const SETTLING_LANES = 2;

/** A group settled: what its transaction recorded, once committed. */
type GroupOutcome = 'stopped' | { snapshot: JobSnapshot; outcomes: DocumentOutcome[]; bytes: number[]; processed: boolean; parsedDelta: number; afterOther: boolean };

/** An input of a group, prepared. */
interface Prepared<T> {
  next: NextInput;
  value: T;
}

/** A group whose transaction is running, and what it holds. */
interface InFlight {
  itemIds: string[];
  keys: Set<string>;
  settled: Promise<'settled' | 'stopped'>;
  /** How it settled, once it has. */
  result?: 'settled' | 'stopped';
}

export class ItemGroups {
  constructor(
    /** The job's tenant scope: every group is a transaction of its own in it. */
    private readonly scope: TenantScope,
    private readonly jobId: string,
    private readonly reporter: ProgressReporter,
    private readonly processed: ProcessedBytes,
    private readonly meter?: Pick<ProductMeter, 'ingestedInput'>,
  ) {}

  /**
   * Settles the job's items in `status`, in order, a group at a time: `prepare` each of the
   * group's items, then `open` a settler for the group's transaction and settle them all.
   * With `keysOf`, up to SETTLING_LANES groups at once (GroupOptions).
   */
  async settleEach<T>(
    status: 'PENDING' | 'PARSED',
    prepare: (next: NextInput) => Promise<T>,
    open: (tx: EntityManager, job: IngestionJob, yieldCheck: YieldCheck) => GroupSettler<T>,
    { keysOf, needsContent, rowsOf, maxRows = DEFAULT_GROUP_ROWS }: GroupOptions<T> = {},
  ): Promise<Settled> {
    await this.processed.load();
    const lanes = keysOf ? SETTLING_LANES : 1;
    // Started, not yet known to be settled; at most `lanes`, oldest first. dropSettled() removes
    // those that have, and says whether one of them stopped the job.
    let inFlight: InFlight[] = [];
    const dropSettled = (): boolean => {
      const stopped = inFlight.some((group) => group.result === 'stopped');
      inFlight = inFlight.filter((group) => group.result === undefined);
      return stopped;
    };
    let after = -1;
    // The input that would have taken the last group past `maxRows`: prepared, it starts the next.
    let carried: Prepared<T> | undefined;
    try {
      for (;;) {
        const group = await this.nextGroup(status, after, needsContent, carried?.next);
        if (group === 'stopped' || (group === 'done' && !carried)) {
          const last = await Promise.all(inFlight.map((running) => running.settled));
          return group === 'stopped' || last.includes('stopped') ? 'stopped' : 'settled';
        }
        const prepared: Prepared<T>[] = carried ? [carried] : [];
        carried = undefined;
        let rows = prepared.reduce((sum, { value }) => sum + (rowsOf?.(value) ?? 0), 0);
        for (const next of group === 'done' ? [] : group) {
          const value = await prepare(next);
          after = next.ordinal;
          const more = rowsOf?.(value) ?? 0;
          // The rest of the inputs read are read again for the next group (their content too: only when a group is cut short).
          if (prepared.length > 0 && rows + more > maxRows) {
            carried = { next, value };
            break;
          }
          prepared.push({ next, value });
          rows += more;
        }
        const keys = new Set(keysOf ? prepared.flatMap(({ value }) => keysOf(value)) : []);
        // A key in common with a group in flight: this one waits for it, so the later input wins.
        for (const running of inFlight.filter((running) => [...keys].some((key) => running.keys.has(key)))) await running.settled;
        if (dropSettled()) return 'stopped';
        // Every lane busy: the first group to settle frees one, whichever it is.
        while (inFlight.length >= lanes) {
          await Promise.race(inFlight.map((running) => running.settled));
          if (dropSettled()) return 'stopped';
        }
        const other = inFlight[0];
        const running: InFlight = { itemIds: prepared.map(({ next }) => next.id), keys, settled: this.settleGroup(status, prepared, open, other) };
        // Handled now, awaited later: a failure while the next group is prepared is not unhandled.
        running.settled.then((result) => (running.result = result), () => undefined);
        inFlight.push(running);
        // One lane (PARSING): settled before the next group is even read, as a sequence.
        if (lanes === 1) {
          await running.settled;
          if (dropSettled()) return 'stopped';
        }
      }
    } finally {
      // A group still running when another failed or stopped: waited for, its own failure dropped.
      await Promise.all(inFlight.map((running) => running.settled.catch(() => undefined)));
    }
  }

  /** One group's transaction, then its outcomes recorded (after `other`'s, when `other` committed first). */
  private async settleGroup<T>(
    status: 'PENDING' | 'PARSED',
    prepared: Prepared<T>[],
    open: (tx: EntityManager, job: IngestionJob, yieldCheck: YieldCheck) => GroupSettler<T>,
    other: InFlight | undefined,
  ): Promise<'settled' | 'stopped'> {
    await this.processed.settling();
    const outcome: GroupOutcome = await this.yielding(() => this.scope.write(async (tx) => {
      // KEY SHARE: cancel and retry wait for the group, progress steps of its writes do not (processed-bytes.ts).
      const started = await lockJob(tx, this.jobId, 'key share');
      if (!started || isTerminal(started.stage)) return 'stopped' as const;
      // A request waiting for the job's row (a cancel, the dataset deleted) goes first: job-preemption.ts.
      const yieldCheck = new YieldCheck(tx, this.jobId);
      const settler = open(tx, started, yieldCheck);
      // Without `content`: the group's inputs were read with it by nextGroup already, and
      // settling needs their status only (issue 19: re-reading a group's 8 MB here was waste).
      // Typed as whole items for the settlers, which never read `content` (countSettled only clears it).
      const items = (await tx.find(IngestionItem, { id: { $in: prepared.map(({ next }) => next.id) }, status }, { refresh: true, exclude: ['content'] })) as unknown as IngestionItem[];
      const byId = new Map(items.map((item) => [item.id, item]));
      const settled: IngestionItem[] = [];
      for (const { next, value } of prepared) {
        // Gone from `status`: another worker settled it meanwhile.
        const item = byId.get(next.id);
        if (!item) continue;
        await yieldCheck.check();
        await settler.settle(item, value);
        settled.push(item);
      }
      await settler.finish();
      // The counts last, from the row as committed now: the job's row is read again under a
      // lock that one group at a time holds, so two groups never count from one old copy.
      const job = (await lockJob(tx, this.jobId, 'no key update'))!;
      const afterOther = other ? await committed(tx, other.itemIds, status) : false;
      const { outcomes, bytes, parsedDelta } = countSettled(job, settled, status);
      const processed = this.processed.settle(job, parsedDelta, settled.map((item) => item.id));
      await tx.flush();
      return { snapshot: snapshotOf(job), outcomes, bytes, processed, parsedDelta, afterOther };
    }));
    // A step of this group's writes still being saved goes out before the group's outcomes.
    await this.processed.settling();
    if (outcome === 'stopped') return 'stopped';
    // Events go out in the order of the commits, which gave the sequences.
    if (outcome.afterOther) await other!.settled.catch(() => undefined);
    this.processed.settled(outcome.parsedDelta);
    // Counted once committed: a transaction that retried or rolled back counts nothing.
    for (const [index, settled] of outcome.outcomes.entries()) {
      this.meter?.ingestedInput(settled.status === 'FAILED' ? 'FAILED' : (settled.outcome ?? 'OTHER'), { bytes: outcome.bytes[index]!, documents: settled.documents, chunks: settled.chunks });
    }
    // An input only PARSED has no outcome yet (it comes in CHUNKING): an event for it only if
    // it moved the job's processed bytes on.
    if (outcome.outcomes.length > 0 || outcome.processed) this.reporter.record(outcome.snapshot, outcome.outcomes);
    return 'settled';
  }

  /**
   * Runs a group's transaction; when it yielded to a request (job-preemption.ts), rolled back,
   * runs it again once every request that asked has ended, unless one ended the job (a cancel,
   * the dataset deleted). Its prepared inputs are kept: only the writes are done again.
   */
  private async yielding(transaction: () => Promise<GroupOutcome>): Promise<GroupOutcome> {
    for (;;) {
      try {
        return await transaction();
      } catch (error) {
        if (!(error instanceof YieldToRequest)) throw error;
      }
      const goOn = await this.scope.write(async (tx) => {
        await awaitYieldedTo(tx, this.jobId);
        const job = await tx.findOne(IngestionJob, { id: this.jobId }, { refresh: true });
        return job !== null && !isTerminal(job.stage);
      });
      if (!goOn) return 'stopped';
      await this.processed.settling();
    }
  }

  /**
   * The next items in `status`, in order: as many as fit in GROUP_BYTES of input (at least
   * one) and GROUP_ITEMS beside `carried` (an input of the group read already), or why there
   * are none. Content only where `needsContent` says so.
   */
  private nextGroup(status: 'PENDING' | 'PARSED', after: number, needsContent?: (header: InputHeader) => boolean, carried?: InputHeader): Promise<NextInput[] | 'stopped' | 'done'> {
    return this.scope.write(async (tx) => {
      const job = await tx.findOne(IngestionJob, { id: this.jobId }, { refresh: true });
      if (!job || isTerminal(job.stage)) return 'stopped' as const;
      const rows = await boundSql<{ id: string; ordinal: number; byte_count: number; name: string; format: Format }>(
        tx,
        // Past the groups already taken: one may still be settling.
        'select id, ordinal, byte_count, name, format from ingestion_items where job_id = ? and status = ? and ordinal > ? order by ordinal limit ?',
        [this.jobId, status, after, GROUP_ITEMS - (carried ? 1 : 0)],
      );
      if (rows.length === 0) return 'done' as const;
      const options = storedIngestionOptions(job.options);
      let bytes = carried?.byteCount ?? 0;
      const headers: InputHeader[] = rows
        .filter((row, index) => (bytes += row.byte_count) <= GROUP_BYTES || (index === 0 && !carried))
        .map((row) => ({ id: row.id, ordinal: row.ordinal, byteCount: row.byte_count, name: row.name, format: row.format, options }));
      const reading = headers.filter((header) => needsContent?.(header) ?? true).map((header) => header.id);
      const read = reading.length === 0 ? [] : await boundSql<{ id: string; content: string | null; metadata: Record<string, unknown> }>(tx, 'select id, content, metadata from ingestion_items where id = any(?::uuid[])', [pgArray(reading)]);
      // Gone between the two reads: only the job's deletion removes a running job's inputs.
      if (read.length < reading.length) return 'stopped' as const;
      const inputs = new Map(read.map((row) => [row.id, row]));
      return headers.map((header) => {
        const row = inputs.get(header.id);
        return { ...header, input: row ? { name: header.name, format: header.format, content: row.content ?? '', metadata: row.metadata } : null };
      });
    });
  }
}

/** Whether the items of the other group in flight have left `status`: it committed before this group took the job's row. */
async function committed(tx: EntityManager, itemIds: string[], status: 'PENDING' | 'PARSED'): Promise<boolean> {
  const rows = await boundSql<{ id: string }>(tx, 'select id from ingestion_items where id = any(?::uuid[]) and status = ? limit 1', [pgArray(itemIds), status]);
  return rows.length === 0;
}

/**
 * The group's settled items counted into the job, once every write is done: a progress step
 * taken during the writes has a lower sequence than every outcome here, and counts from the
 * job's committed bytes. Each finished item gets its sequence and outcome.
 */
function countSettled(job: IngestionJob, settled: IngestionItem[], status: 'PENDING' | 'PARSED') {
  const outcomes: DocumentOutcome[] = [];
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
      job.chunksDone += item.chunkCount;
      if (item.status === 'FAILED') job.documentsFailed += 1;
      else item.content = null;
      outcomes.push(outcomeOf(item));
      bytes.push(item.byteCount);
    }
  }
  return { outcomes, bytes, parsedDelta };
}
