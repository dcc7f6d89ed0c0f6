/**
 * Where an embeddings answer is read: on the event loop when it is small, in a worker thread
 * when it is large. A batch of 2 048 texts of 3 072 dimensions is about 200 MB of JSON; parsed
 * on the event loop it held every request of every tenant (a 250 MB answer: 45 s to 2 min with
 * no /healthz, 4.5 GB of memory). In a thread it costs that thread's time and at most its heap
 * (V8 resource limits: a thread over it is killed by V8, not the process).
 *
 * One pool for the process, started on first use, its threads gone when idle (piscina unrefs
 * them, so it keeps no process alive): like the egress guard's agents, it is a resource of the
 * process, not of a model or a request.
 *
 * The thread module is TypeScript under tsx and vitest, JavaScript once compiled (see
 * ingestion/document-parser.ts, whose threads are started the same way).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { readEmbeddingAnswer, type AnswerShape, type ReadAnswer } from './embedding-answer.js';
import type { AnswerTask } from './embedding-answer-thread.js';

/**
 * Answers up to this many bytes are read on the event loop: a question's one vector (3 072
 * numbers, pretty-printed as OpenAI sends them, is about 95 KB). Measured (2 cores, under a test
 * run's load): 30 KiB read in 2.4 ms on the loop, 120 KiB in 12 ms; a warm thread's round trip
 * for the same sizes took 16 to 21 ms, and a cold one 50 to 300 ms more (thread start, tsx):
 * a semantic query would pay that on every question. Larger answers (ingestion's batches) go
 * to a thread, where their cost is no request's wait.
 */
export const EVENT_LOOP_ANSWER_BYTES = 128 * 1024;

/**
 * Heap of one answer thread: the largest answer allowed (256 MiB, openai-compatible-embeddings.ts)
 * decoded to a string, plus its numbers parsed (at most one per separator allowed), fits.
 */
const THREAD_MEMORY_MB = 1024;
/** Answers read at once; more wait their turn (a batch's answer is read once it is all here). */
const THREADS = 2;

const TYPESCRIPT = import.meta.url.endsWith('.ts');
const THREAD_MODULE = new URL(`./embedding-answer-thread${TYPESCRIPT ? '.ts' : '.js'}`, import.meta.url);

function threadExecArgv(): string[] {
  if (!TYPESCRIPT || process.execArgv.includes('tsx')) return process.execArgv;
  return [...process.execArgv, '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}

let pool: Piscina | undefined;

function answerThreads(): Piscina {
  pool ??= new Piscina({
    filename: THREAD_MODULE.href,
    execArgv: threadExecArgv(),
    minThreads: 0,
    maxThreads: THREADS,
    concurrentTasksPerWorker: 1,
    idleTimeout: 60_000,
    resourceLimits: { maxOldGenerationSizeMb: THREAD_MEMORY_MB },
  });
  return pool;
}

/** An answer thread could not read the answer (it ran out of memory, or could not start). */
export class AnswerThreadError extends Error {}

/**
 * The answer's vectors, or why they are not what was asked. `bytes` is handed over: its buffer
 * moves to the thread when the answer is large, and must not be used after.
 */
export async function readAnswer(bytes: Uint8Array<ArrayBuffer>, shape: AnswerShape): Promise<ReadAnswer> {
  if (bytes.byteLength <= EVENT_LOOP_ANSWER_BYTES) return readEmbeddingAnswer(bytes, shape);
  const task: AnswerTask = { bytes, shape };
  try {
    return (await answerThreads().run(task, { transferList: [bytes.buffer] })) as ReadAnswer;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return { ok: false, message: `Reading the model server's answer needed more than ${THREAD_MEMORY_MB} MB` };
    }
    throw new AnswerThreadError(`the embeddings answer thread failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
