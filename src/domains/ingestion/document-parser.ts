/**
 * Parsing and chunking off the event loop: a piscina pool of worker threads, each with a
 * memory budget (V8 resource limits: a thread over it is killed by V8, not the process) and a
 * per-input time budget (a task still running when it ends is aborted, which terminates its
 * thread; piscina starts a fresh one). A hostile input thus costs at most one thread's budget
 * and fails alone: PARSE_TIMEOUT or PARSE_MEMORY, beside the PARSE_ERROR / PARSE_LIMIT the
 * thread reports itself (parse-thread.ts).
 *
 * The thread module is TypeScript under tsx and vitest, JavaScript once compiled: a `.ts`
 * thread gets tsx's loader by absolute URL (a worker thread inherits `node --import tsx`, but
 * not vitest's transform nor bin/sluice.js's `register()`, and a bare `tsx` would resolve
 * from the working directory).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ChunkingOptions, IngestionOptions } from './options.js';
import type { ChunkedDocument, DocumentBatch, HashedDocument, ParseFailure, ParseResult, ParseTask, ThreadResult } from './parse-thread.js';
import type { ParseLimits } from './parsers/limits.js';
import type { ParseInput } from './parsers/parse.js';

export interface ParseBudget extends ParseLimits {
  /** Most time one input may take in its thread (parse, or parse and chunk). */
  timeoutMs: number;
  /** Heap (V8 old generation) of one parser thread, in MB. */
  memoryMb: number;
  /** Threads at most: one per job running at once is enough. */
  threads: number;
  /**
   * Documents one input may yield (a CSV's or JSONL's rows, a JSON array's records). They are
   * held in the worker's own heap (the serving process's, inline) until written: two CSVs of
   * 2.4 million one-character rows, ingested at once, ran it out of memory and it died.
   */
  maxDocuments: number;
  /**
   * Documents the inputs of one job may yield in all (SLUICE_PARSE_MAX_JOB_DOCUMENTS): a job
   * holds the documents of a group of inputs at once (up to 32 of them), and its source keys
   * while it parses, so a call of many inputs each within `maxDocuments` (32 files of 250 000
   * one-character JSON records) held gigabytes.
   */
  maxJobDocuments: number;
}

/** An input's documents and what they cost the heap (DocumentBatch), or why it failed. */
export type ParsedInput = DocumentBatch<HashedDocument> | { failure: ParseFailure };

/** An error that is not the input's fault (the thread could not start, a bug): the job is retried. */
export class ParserUnavailableError extends Error {}

const TYPESCRIPT = import.meta.url.endsWith('.ts');
const THREAD_MODULE = new URL(`./parse-thread${TYPESCRIPT ? '.ts' : '.js'}`, import.meta.url);

function threadExecArgv(): string[] {
  if (!TYPESCRIPT || process.execArgv.includes('tsx')) return process.execArgv;
  return [...process.execArgv, '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}

export class DocumentParser {
  private readonly pool: Piscina;

  constructor(private readonly budget: ParseBudget) {
    this.pool = new Piscina({
      filename: THREAD_MODULE.href,
      execArgv: threadExecArgv(),
      minThreads: 0,
      maxThreads: budget.threads,
      // One task per thread: a killed thread takes no one else's input with it.
      concurrentTasksPerWorker: 1,
      // Idle threads go after a minute; a job's next input usually comes well before.
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: budget.memoryMb },
    });
  }

  /**
   * PARSING: the input's documents, hashed. `earlier` documents of its job came before it: an
   * input that would take the job past `maxJobDocuments` fails (jobRoomFor), the thread stopped
   * as soon as it does.
   */
  parse(input: ParseInput, options: IngestionOptions, earlier = 0): Promise<ParsedInput> {
    return this.run({ kind: 'parse', input, options, limits: this.budget }, undefined, this.jobRoomFor(earlier)) as Promise<ParsedInput>;
  }

  /** The documents an input may yield after `earlier` ones of its job: its own bound, or what is left of the job's. */
  jobRoomFor(earlier: number): number {
    return Math.max(0, Math.min(this.budget.maxDocuments, this.budget.maxJobDocuments - earlier));
  }

  /** Why an input fails that would take its job past `maxJobDocuments`. */
  overJobLimit(name: string): ParseFailure {
    return { reason: 'PARSE_LIMIT', message: `${JSON.stringify(name)}: would take the job past ${this.budget.maxJobDocuments} documents (rows or records, its inputs' in all); ingest it in another job` };
  }

  /**
   * CHUNKING: the input's documents with their chunks; from documents PARSING kept when there
   * are some. `onProgress` hears the fraction of a large input's text chunked so far.
   */
  async chunk(
    source: { input: ParseInput; options: IngestionOptions } | { documents: HashedDocument[]; chunking: ChunkingOptions },
    onProgress?: (fraction: number) => void,
  ): Promise<ParseResult<ChunkedDocument>> {
    if (!('documents' in source)) return this.run({ kind: 'chunk', ...source, limits: this.budget }, onProgress) as Promise<ParseResult<ChunkedDocument>>;
    // Kept documents go to threads a slice at a time (a task, and a time budget, each), so no
    // thread holds a million rows' documents and their chunks at once.
    const total = source.documents.reduce((sum, document) => sum + document.text.length, 0);
    const chunked: ChunkedDocument[] = [];
    let before = 0;
    for (const documents of slices(source.documents)) {
      const size = documents.reduce((sum, document) => sum + document.text.length, 0);
      const heard = onProgress && ((fraction: number) => onProgress(total === 0 ? 1 : (before + fraction * size) / total));
      const result = (await this.run({ kind: 'chunk-parsed', documents, chunking: source.chunking }, heard)) as ParseResult<ChunkedDocument>;
      if ('failure' in result) return result;
      for (const document of result.documents) chunked.push(document);
      before += size;
    }
    return { documents: chunked };
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }

  /** Runs `task` in a thread; an input's task may yield at most `maxDocuments` documents. */
  private async run(
    task: DistributiveOmit<ParseTask, 'started' | 'progress' | 'batches'>,
    onProgress?: (fraction: number) => void,
    maxDocuments = this.budget.maxDocuments,
  ): Promise<ParseResult<HashedDocument | ChunkedDocument>> {
    const name = 'input' in task ? task.input.name : (task.documents[0]?.sourceKey ?? 'input');
    const { port1: started, port2 } = new MessageChannel();
    const progress = onProgress ? new MessageChannel() : undefined;
    progress?.port1.on('message', (fraction: number) => onProgress!(fraction));
    const abort = new AbortController();
    // Over the documents an input may yield: the thread is stopped and what it sent dropped.
    const batches = 'input' in task ? new BatchReceiver(maxDocuments, () => abort.abort()) : undefined;
    const overLimit = () => (maxDocuments < this.budget.maxDocuments ? this.overJobLimit(name) : this.tooManyDocuments(name));
    let timer: NodeJS.Timeout | undefined;
    // The budget counts from the task's start in its thread, not from a thread's (slow, under tsx) start-up.
    started.once('message', () => {
      timer = setTimeout(() => abort.abort(), this.budget.timeoutMs);
    });
    try {
      const ports = { started: port2, ...(progress && { progress: progress.port2 }), ...(batches && { batches: batches.port }) };
      const transferList = [port2, ...(progress ? [progress.port2] : []), ...(batches ? [batches.port] : [])];
      const result = (await this.pool.run({ ...task, ...ports }, { signal: abort.signal, transferList })) as ThreadResult<HashedDocument | ChunkedDocument>;
      if (!('batches' in result)) return result;
      const received = await batches!.all(result.batches);
      return batches!.overLimit ? { failure: overLimit() } : received;
    } catch (error) {
      if (batches?.overLimit) return { failure: overLimit() };
      if (abort.signal.aborted) {
        return { failure: { reason: 'PARSE_TIMEOUT', message: `${JSON.stringify(name)}: parsing took longer than ${this.budget.timeoutMs} ms` } };
      }
      if ((error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
        return { failure: { reason: 'PARSE_MEMORY', message: `${JSON.stringify(name)}: parsing needed more than ${this.budget.memoryMb} MB` } };
      }
      throw new ParserUnavailableError(`the parser thread failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
      started.close();
      progress?.port1.close();
      batches?.close();
    }
  }

  private tooManyDocuments(name: string): ParseFailure {
    return { reason: 'PARSE_LIMIT', message: `${JSON.stringify(name)}: yields more than ${this.budget.maxDocuments} documents (rows or records); split it, or ingest it whole (csvMode: FILE)` };
  }
}

/** Kept documents to chunk per thread task: at most this many, or about this many characters (a larger document goes alone). */
const SLICE_DOCUMENTS = 16_384;
const SLICE_CHARS = 16 * 1024 * 1024;

function* slices(documents: HashedDocument[]): Generator<HashedDocument[]> {
  let start = 0;
  while (start < documents.length) {
    let end = start;
    let chars = 0;
    while (end < documents.length && end - start < SLICE_DOCUMENTS && (end === start || chars + documents[end]!.text.length <= SLICE_CHARS)) {
      chars += documents[end]!.text.length;
      end += 1;
    }
    yield documents.slice(start, end);
    start = end;
  }
}

/**
 * The batches a thread posts (parse-thread.ts). They come on their own port, so the task's
 * result may arrive before the last of them: `all` waits for as many as the result counts.
 * Each is a message of its own, decoded on this (the worker's) event loop one at a time.
 */
class BatchReceiver<T = HashedDocument | ChunkedDocument> {
  private readonly channel = new MessageChannel();
  private readonly received: T[][] = [];
  private batchesIn = 0;
  private documentsIn = 0;
  private heapBytes = 0;
  /** More documents came than `maxDocuments`: none is kept. */
  overLimit = false;
  private waiting?: { count: number; resolve: () => void };

  constructor(maxDocuments: number, onOverLimit: () => void) {
    this.channel.port1.on('message', ({ documents, heapBytes }: DocumentBatch<T>) => {
      this.batchesIn += 1;
      this.documentsIn += documents.length;
      this.heapBytes += heapBytes;
      if (!this.overLimit && this.documentsIn > maxDocuments) {
        this.overLimit = true;
        this.received.length = 0;
        onOverLimit();
      }
      if (!this.overLimit) this.received.push(documents);
      if (this.waiting && this.batchesIn >= this.waiting.count) this.waiting.resolve();
    });
  }

  /** The thread's end of the channel. */
  get port() {
    return this.channel.port2;
  }

  async all(count: number): Promise<DocumentBatch<T>> {
    if (this.batchesIn < count) await new Promise<void>((resolve) => (this.waiting = { count, resolve }));
    const documents: T[] = [];
    for (const batch of this.received) for (const document of batch) documents.push(document);
    return { documents, heapBytes: this.heapBytes };
  }

  close(): void {
    this.channel.port1.close();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
