/**
 * Writes parsed documents and their chunks with a few set-based statements per input (never
 * one INSERT per chunk): new documents in one INSERT, chunks in batches of rows decoded by
 * PostgreSQL from one JSON parameter, bound rather than inlined (see bound-sql.ts). Runs inside
 * the transaction that settles a group of inputs (item-groups.ts); the group's chunks share their
 * INSERTs (`DatasetChunkWriter`), and with them the BM25 statistics trigger's upsert of
 * `dataset_terms`, which runs once per statement: the distinct lexemes of several inputs are
 * far fewer than their sum (issue 19: ingestion cost). A large input's progress through its
 * INSERTs is told to the job's progress (FOLLOWED_CHARS).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { v7 as uuidv7 } from 'uuid';
import { boundSql as sql, pgArray } from '../../db/bound-sql.js';
import type { YieldCheck } from '../job-preemption.js';
import type { IngestionItem } from './ingestion-item.entity.js';
import type { ChunkedDocument } from './parse-thread.js';
import type { ItemOutcome } from './stages.js';
import type { WriteRate } from './write-rate.js';

/**
 * Rows per chunk INSERT, and the most text one statement carries. Each INSERT runs the
 * statistics trigger's upsert once, for the distinct lexemes of its rows: larger statements
 * mean fewer upserted rows in all (2 000 rows and 4 MB until 2026-12-03, about one 512 KiB file
 * per statement, so every file upserted nearly the whole vocabulary again). 16 384 rows hold a
 * whole group of default-sized chunks (8 MB of input, GROUP_BYTES in item-groups.ts, makes about
 * 10 500): at 10 000 each group ended with an INSERT of a few hundred rows, whose trigger took
 * the continued-document path and which ran while the group held the dataset's row, and with it
 * the other group's statistics (docs/endpoints.md, Performance). The trigger's (document, term)
 * hash table, 25 MB measured for 10 000 chunks, grows to about 40 MB: inside the 64 MB work_mem
 * the trigger sets itself (Migration20261203061539_bm25_statistics_narrow_aggregation). A batch
 * also holds the chunks of at most DOCUMENTS_PER_STATEMENT documents (below).
 */
const BATCH_ROWS = 16_384;
const BATCH_CHARS = 12 * 1024 * 1024;

/**
 * The group's transaction's work_mem, set before its first chunk INSERT. PostgreSQL holds a
 * batch in memory while it inserts it: json_to_recordset's rows, and the INSERT's transition
 * table that the statistics trigger reads (the chunks with their tsvectors, about 24 MB for a
 * group at default chunking). At the server's default (4 MB) the INSERTs wrote temporary files:
 * 6 files, 70 MB, for the 20 MB benchmark (pg_stat_database); none with this. `set local`: back
 * to the default at the commit.
 */
const INSERT_WORK_MEM = '64MB';

/**
 * An input whose chunks hold at least FOLLOWED_CHARS of text is followed while they are
 * inserted (issue 21: writing a large file's chunks is most of its time): after each INSERT
 * holding some of them, the fraction inserted; while one runs, an estimate from the worker's
 * rate so far (write-rate.ts), every TICK_MS and never past ESTIMATE_CAP of that INSERT's part.
 * Exact steps would need more statements: each one after a document's first re-reads its
 * earlier chunks for the BM25 statistics (the trigger's continued-document path), and five
 * INSERTs per 4 MB file took about twice the PostgreSQL CPU time of one (docs/benchmarks.md,
 * "Progress while a large file's chunks are written").
 */
export const FOLLOWED_CHARS = 256 * 1024;
const TICK_MS = 250;
const ESTIMATE_CAP = 0.9;

/**
 * Documents per statement looking up or writing an input's documents, and whose chunks one
 * chunk INSERT holds. A CSV of a million rows (a document each) made one lookup and one INSERT
 * of a million rows: their parameters built and serialised in one go on the worker's event
 * loop, which inline (`SLUICE_WORKER=inline`) is the one serving requests. UUIDv7 ids keep
 * their order across the statements (one transaction, one now()). A chunk INSERT of 16 384
 * one-chunk documents took 2.5 to 4 s on a loaded 2-core machine (over 1.5 minutes inside a
 * transaction of 2 million, by a review's account; the statistics trigger probes each
 * document), and a group yields to a cancel only between statements (job-preemption.ts). Cut
 * between documents, a batch never splits one, so the cut adds no continued-document path.
 */
const DOCUMENTS_PER_STATEMENT = 4096;

function* slices<T>(items: readonly T[]): Generator<T[]> {
  for (let start = 0; start < items.length; start += DOCUMENTS_PER_STATEMENT) yield items.slice(start, start + DOCUMENTS_PER_STATEMENT);
}

/** Told the fraction (0 to 1, by characters) of one input's chunks inserted so far, or estimated while an INSERT runs. */
export type WrittenStep = (fraction: number) => void;

/** A large input being written: its chunk characters in all, inserted, and waiting in the batch (or in the INSERT running). */
interface FollowedInput {
  total: number;
  inserted: number;
  waiting: number;
  step: WrittenStep;
}

interface StoredDocument {
  id: string;
  source_key: string;
  content_hash: string;
  chunk_count: number;
  byte_count: number;
}

export async function documentHashes(tx: EntityManager, datasetId: string, sourceKeys: string[]): Promise<Map<string, string>> {
  const rows = await sql<StoredDocument>(
    tx,
    'select source_key, content_hash from documents where dataset_id = ? and source_key = any(?::text[])',
    [datasetId, pgArray(sourceKeys)],
  );
  return new Map(rows.map((row) => [row.source_key, row.content_hash]));
}

/**
 * The chunks of one group of inputs for one dataset, in as few INSERTs as the batch limits
 * allow, and the dataset's counters in one UPDATE at the end. Opened in the group's
 * transaction; `finish` must run before it commits.
 */
export class DatasetChunkWriter {
  private language: string | undefined;
  private batch: unknown[][] = [];
  private batchChars = 0;
  /** Chunks of these documents are waiting in `batch` (not yet inserted). */
  private readonly pendingDocuments = new Set<string>();
  private readonly delta = { documents: 0, chunks: 0, bytes: 0 };
  /** The large inputs whose chunks are followed (until all are inserted), and the one whose chunks are being added. */
  private readonly followed = new Set<FollowedInput>();
  private current: FollowedInput | undefined;
  private workMemSet = false;

  private readonly rate: WriteRate | undefined;
  private readonly yieldCheck: Pick<YieldCheck, 'check'> | undefined;

  constructor(
    private readonly tx: EntityManager,
    readonly tenantId: string,
    readonly datasetId: string,
    options: {
      /** The worker's INSERT rate, for the estimate while one runs; absent: inputs are followed only between INSERTs. */
      rate?: WriteRate;
      /** Looked at before each statement: a request waiting for the job's row makes the group roll back (job-preemption.ts). */
      yieldCheck?: Pick<YieldCheck, 'check'>;
    } = {},
  ) {
    this.rate = options.rate;
    this.yieldCheck = options.yieldCheck;
  }

  /** Before each statement of the group's writes: throws YieldToRequest once a request waits for the job (job-preemption.ts). */
  async beforeStatement(): Promise<void> {
    await this.yieldCheck?.check();
  }

  /**
   * Reads the dataset's language (the index config) once. Not locked: its row is locked by the
   * first statement that changes its chunks (the statistics trigger, before any term), so a
   * group settling beside this one writes its rows meanwhile (item-groups.ts).
   */
  async datasetLanguage(): Promise<string> {
    if (this.language === undefined) {
      const [dataset] = await sql<{ language: string }>(this.tx, 'select language from datasets where id = ?', [this.datasetId]);
      if (!dataset) throw new Error(`dataset ${this.datasetId} vanished under its job`);
      this.language = dataset.language;
    }
    return this.language;
  }

  /** Before chunks of these documents are deleted: any of theirs still waiting go in first, so the delete finds them. */
  async beforeDelete(documentIds: string[]): Promise<void> {
    if (documentIds.some((id) => this.pendingDocuments.has(id))) await this.flush();
  }

  /** The chunks added next are one input's, `chars` characters in all: a large one's progress is told to `step`. */
  startInput(chars: number, step: WrittenStep | undefined): void {
    this.current = step && chars >= FOLLOWED_CHARS ? { total: chars, inserted: 0, waiting: 0, step } : undefined;
    if (this.current) this.followed.add(this.current);
  }

  async add(documentId: string, ordinal: number, chunk: { content: string; start: number; end: number }): Promise<void> {
    // A document's first chunk that would make the batch span more documents goes in the next.
    if (!this.pendingDocuments.has(documentId) && this.pendingDocuments.size >= DOCUMENTS_PER_STATEMENT) await this.flush();
    this.batch.push([documentId, ordinal, chunk.content, chunk.start, chunk.end]);
    this.pendingDocuments.add(documentId);
    this.batchChars += chunk.content.length;
    if (this.current) this.current.waiting += chunk.content.length;
    if (this.batch.length >= BATCH_ROWS || this.batchChars >= BATCH_CHARS) await this.flush();
  }

  count(delta: { documents: number; chunks: number; bytes: number }): void {
    this.delta.documents += delta.documents;
    this.delta.chunks += delta.chunks;
    this.delta.bytes += delta.bytes;
  }

  /** The waiting chunks, then the dataset's counters (only if an input wrote anything). */
  async finish(): Promise<void> {
    await this.flush();
    if (this.language === undefined) return;
    await sql(
      this.tx,
      `update datasets set document_count = document_count + ?, chunk_count = chunk_count + ?, byte_count = byte_count + ?,
         last_ingested_at = now(), updated_at = now() where id = ?`,
      [this.delta.documents, this.delta.chunks, this.delta.bytes, this.datasetId],
    );
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const rows = this.batch.map(([d, o, c, s, e]) => ({ d, o, c, s, e }));
    const chars = this.batchChars;
    this.batch = [];
    this.batchChars = 0;
    this.pendingDocuments.clear();
    await this.beforeStatement();
    const inFlight = [...this.followed].filter((input) => input.waiting > 0);
    const started = Date.now();
    const rate = this.rate;
    const ticker =
      rate && inFlight.length > 0
        ? setInterval(() => {
            const done = rate.estimate(chars, Date.now() - started, ESTIMATE_CAP);
            for (const input of inFlight) input.step((input.inserted + input.waiting * done) / input.total);
          }, TICK_MS)
        : undefined;
    try {
      if (!this.workMemSet) {
        await sql(this.tx, `set local work_mem = '${INSERT_WORK_MEM}'`, []);
        this.workMemSet = true;
      }
      await sql(
        this.tx,
        `insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language)
         select gen_random_uuid(), ?, ?, r.d, r.o, r.c, r.s, r.e, ?::regconfig
           from json_to_recordset(?::json) as r(d uuid, o int, c text, s int, e int)`,
        [this.tenantId, this.datasetId, await this.datasetLanguage(), JSON.stringify(rows)],
      );
    } finally {
      clearInterval(ticker);
    }
    rate?.observe(chars, Date.now() - started);
    for (const input of inFlight) {
      input.inserted += input.waiting;
      input.waiting = 0;
      input.step(Math.min(1, input.inserted / input.total));
      if (input.inserted >= input.total) this.followed.delete(input);
    }
  }
}

/** One input's documents: replaces changed ones, adds new ones; their chunks go to `chunks`. */
export async function writeDocuments(
  tx: EntityManager,
  { item, documents }: { item: IngestionItem; documents: ChunkedDocument[] },
  chunks: DatasetChunkWriter,
  step?: WrittenStep,
): Promise<{ outcome: ItemOutcome; chunks: number }> {
  const { tenantId, datasetId } = chunks;
  await chunks.datasetLanguage();
  // The last of several documents with one key wins, as if they had come in one after another.
  const latest = [...new Map(documents.map((document) => [document.sourceKey, document])).values()];
  // A table's rows are documents each: the statements go DOCUMENTS_PER_STATEMENT documents at a
  // time, so no one step builds (and no one parameter holds) a million rows on the event loop.
  const stored = new Map<string, StoredDocument>();
  for (const slice of slices(latest)) {
    await chunks.beforeStatement();
    const rows = await sql<StoredDocument>(
      tx,
      'select id, source_key, content_hash, chunk_count, byte_count from documents where dataset_id = ? and source_key = any(?::text[]) for update',
      [datasetId, pgArray(slice.map((document) => document.sourceKey))],
    );
    for (const row of rows) stored.set(row.source_key, row);
  }
  const changed = latest.filter((document) => stored.get(document.sourceKey)?.content_hash !== document.hash);
  const replaced = changed.filter((document) => stored.has(document.sourceKey));
  const added = changed.filter((document) => !stored.has(document.sourceKey));

  // Chunked in a parser thread (document-parser.ts), never here on the event loop.
  const chunked = changed.map((document) => ({ document, chunks: document.chunks, bytes: Buffer.byteLength(document.text) }));
  const byKey = new Map(chunked.map((entry) => [entry.document.sourceKey, entry]));

  if (replaced.length > 0) {
    const ids = replaced.map((document) => stored.get(document.sourceKey)!.id);
    await chunks.beforeDelete(ids);
    await chunks.beforeStatement();
    await sql(tx, 'delete from chunks where document_id = any(?::uuid[])', [pgArray(ids)]);
  }
  // New documents get time-ordered ids (UUIDv7, monotonic within a millisecond): every document
  // of a transaction shares now(), and the listing breaks that tie by id, so input order holds.
  const documentIds = new Map<string, string>();
  for (const slice of slices(changed)) {
    await chunks.beforeStatement();
    const rows = slice.map((document) => ({
      id: stored.get(document.sourceKey)?.id ?? uuidv7(),
      source_key: document.sourceKey,
      title: document.title,
      mime_type: item.mimeType,
      content_hash: document.hash,
      byte_count: byKey.get(document.sourceKey)!.bytes,
      chunk_count: byKey.get(document.sourceKey)!.chunks.length,
      metadata: document.metadata,
    }));
    const written = await sql<{ id: string; source_key: string }>(
      tx,
      `insert into documents (id, tenant_id, dataset_id, source_key, title, mime_type, content_hash, byte_count, chunk_count, metadata, created_at, updated_at)
       select r.id, ?, ?, r.source_key, r.title, r.mime_type, r.content_hash, r.byte_count, r.chunk_count, coalesce(r.metadata, '{}'), now(), now()
         from json_to_recordset(?::json) as r(id uuid, source_key text, title text, mime_type text, content_hash text, byte_count int, chunk_count int, metadata jsonb)
       on conflict (tenant_id, dataset_id, source_key) do update set
         title = excluded.title, mime_type = excluded.mime_type, content_hash = excluded.content_hash, byte_count = excluded.byte_count,
         chunk_count = excluded.chunk_count, metadata = excluded.metadata, updated_at = now()
       returning id, source_key`,
      [tenantId, datasetId, JSON.stringify(rows)],
    );
    for (const row of written) documentIds.set(row.source_key, row.id);
  }

  let chunkTotal = 0;
  chunks.startInput(
    chunked.reduce((sum, entry) => sum + entry.chunks.reduce((chars, chunk) => chars + chunk.content.length, 0), 0),
    step,
  );
  for (const { document, chunks: documentChunks } of chunked) {
    const documentId = documentIds.get(document.sourceKey)!;
    for (const [ordinal, chunk] of documentChunks.entries()) await chunks.add(documentId, ordinal, chunk);
    chunkTotal += documentChunks.length;
  }

  const chunkDelta = chunkTotal - replaced.reduce((sum, document) => sum + stored.get(document.sourceKey)!.chunk_count, 0);
  const byteDelta =
    chunked.reduce((sum, entry) => sum + entry.bytes, 0) - replaced.reduce((sum, document) => sum + stored.get(document.sourceKey)!.byte_count, 0);
  chunks.count({ documents: added.length, chunks: chunkDelta, bytes: byteDelta });
  const outcome: ItemOutcome = changed.length === 0 ? 'UNCHANGED' : replaced.length > 0 ? 'REPLACED' : 'INDEXED';
  return { outcome, chunks: chunkTotal };
}
