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
import type { ChunkedDocument, HashedDocument, ParseResult, ParseTask } from './parse-thread.js';
import type { ParseLimits } from './parsers/limits.js';
import type { ParseInput } from './parsers/parse.js';

export interface ParseBudget extends ParseLimits {
  /** Most time one input may take in its thread (parse, or parse and chunk). */
  timeoutMs: number;
  /** Heap (V8 old generation) of one parser thread, in MB. */
  memoryMb: number;
  /** Threads at most: one per job running at once is enough. */
  threads: number;
}

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

  /** PARSING: the input's documents, hashed. */
  parse(input: ParseInput, options: IngestionOptions): Promise<ParseResult<HashedDocument>> {
    return this.run({ kind: 'parse', input, options, limits: this.budget }) as Promise<ParseResult<HashedDocument>>;
  }

  /**
   * CHUNKING: the input's documents with their chunks; from documents PARSING kept when there
   * are some. `onProgress` hears the fraction of a large input's text chunked so far.
   */
  chunk(
    source: { input: ParseInput; options: IngestionOptions } | { documents: HashedDocument[]; chunking: ChunkingOptions },
    onProgress?: (fraction: number) => void,
  ): Promise<ParseResult<ChunkedDocument>> {
    const task = 'documents' in source ? { kind: 'chunk-parsed' as const, ...source } : { kind: 'chunk' as const, ...source, limits: this.budget };
    return this.run(task, onProgress) as Promise<ParseResult<ChunkedDocument>>;
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }

  private async run(
    task: DistributiveOmit<ParseTask, 'started' | 'progress'>,
    onProgress?: (fraction: number) => void,
  ): Promise<ParseResult<HashedDocument | ChunkedDocument>> {
    const name = 'input' in task ? task.input.name : (task.documents[0]?.sourceKey ?? 'input');
    const { port1: started, port2 } = new MessageChannel();
    const progress = onProgress ? new MessageChannel() : undefined;
    progress?.port1.on('message', (fraction: number) => onProgress!(fraction));
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // The budget counts from the task's start in its thread, not from a thread's (slow, under tsx) start-up.
    started.once('message', () => {
      timer = setTimeout(() => abort.abort(), this.budget.timeoutMs);
    });
    try {
      const ports = progress ? { started: port2, progress: progress.port2 } : { started: port2 };
      return await this.pool.run({ ...task, ...ports }, { signal: abort.signal, transferList: progress ? [port2, progress.port2] : [port2] });
    } catch (error) {
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
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
