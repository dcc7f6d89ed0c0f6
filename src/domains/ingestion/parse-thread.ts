/**
 * What runs in a parser thread (document-parser.ts starts these with piscina): one input to
 * its documents (PARSING), or to its documents and their chunks (CHUNKING). Nothing here may
 * run on the event loop that serves requests. A parse failure, including an exception no
 * parser meant to throw (a stack overflow), comes back as a value with its reason, so it
 * fails its input alone; only the thread's death (memory, time) rejects the task.
 */
import { createHash } from 'node:crypto';
import type { MessagePort } from 'node:worker_threads';
import { CodedError } from '../errors.js';
import { chunkText, type TextChunk } from './chunker.js';
import type { ChunkingOptions, IngestionOptions } from './options.js';
import type { ParseLimits } from './parsers/limits.js';
import { parseDocumentBatches, type ParsedDocument, type ParseInput } from './parsers/parse.js';

export type HashedDocument = ParsedDocument & { hash: string };
export type ChunkedDocument = HashedDocument & { chunks: TextChunk[] };

/** Why an input failed to parse; stored as the input's `reason`. */
export const PARSE_FAILURE_REASONS = ['PARSE_ERROR', 'PARSE_LIMIT', 'PARSE_TIMEOUT', 'PARSE_MEMORY'] as const;
export type ParseFailureReason = (typeof PARSE_FAILURE_REASONS)[number];

export interface ParseFailure {
  reason: ParseFailureReason;
  message: string;
}

/**
 * `progress`, when given, hears the fraction of the text chunked so far (see withChunks).
 * `batches` hears an input's documents (chunked, for `chunk`) a batch at a time as they are
 * parsed, and the task's result says how many batches there were: a thread holds one batch
 * of a million-row CSV, not all of it (parsers/parse.ts, DOCUMENT_BATCH_SIZE).
 */
export type ParseTask =
  | { kind: 'parse'; input: ParseInput; options: IngestionOptions; limits: ParseLimits; started: MessagePort; batches: MessagePort }
  | { kind: 'chunk'; input: ParseInput; options: IngestionOptions; limits: ParseLimits; started: MessagePort; batches: MessagePort; progress?: MessagePort }
  | { kind: 'chunk-parsed'; documents: HashedDocument[]; chunking: ChunkingOptions; started: MessagePort; progress?: MessagePort };

/**
 * Chunking progress is posted only for texts of at least this many characters, at most
 * PROGRESS_STEPS times: a small input's chunking is over before anyone could see a step.
 */
export const PROGRESS_MIN_CHARS = 256 * 1024;
const PROGRESS_STEPS = 20;

export type ParseResult<T> = { documents: T[] } | { failure: ParseFailure };
/** What a thread answers: documents (chunk-parsed), the number of batches it posted (parse, chunk), or why the input failed. */
export type ThreadResult<T> = ParseResult<T> | { batches: number };

export default function runParseTask(task: ParseTask): ThreadResult<HashedDocument | ChunkedDocument> {
  // The time budget starts now, once the thread is up and this module is loaded.
  task.started.postMessage('started');
  task.started.close();
  try {
    if (task.kind === 'chunk-parsed') return { documents: withChunks(task.documents, task.chunking, task.progress) };
    const { chunking } = task.options;
    const large = task.input.content.length >= PROGRESS_MIN_CHARS;
    let batches = 0;
    let next = 1 / PROGRESS_STEPS;
    parseDocumentBatches(task.input, task.options, task.limits, (batch, last, done) => {
      const documents = batch.map((document) => ({ ...document, hash: hashOf(document.text, document.title, document.metadata, chunking) }));
      if (task.kind === 'parse') {
        task.batches.postMessage(documents);
      } else if (batches === 0 && last) {
        // One batch (every input but a CSV of many rows): progress through its text as it is chunked.
        task.batches.postMessage(withChunks(documents, chunking, task.progress));
      } else {
        // Many: progress by how much of the input has been read, each 1/PROGRESS_STEPS.
        task.batches.postMessage(withChunks(documents, chunking));
        if (task.progress && large && done >= next) {
          task.progress.postMessage(done);
          next = (Math.floor(done * PROGRESS_STEPS) + 1) / PROGRESS_STEPS;
        }
      }
      batches += 1;
    });
    return { batches };
  } catch (error) {
    return { failure: failureOf(task, error) };
  }
}

function withChunks(documents: HashedDocument[], chunking: ChunkingOptions, progress?: MessagePort): ChunkedDocument[] {
  const total = documents.reduce((sum, document) => sum + document.text.length, 0);
  if (!progress || total < PROGRESS_MIN_CHARS) return documents.map((document) => ({ ...document, chunks: chunkText(document.text, chunking) }));
  // Characters of the documents before the current one; a step posted each 1/PROGRESS_STEPS.
  let before = 0;
  let next = total / PROGRESS_STEPS;
  const heard = (done: number) => {
    if (done < next) return;
    progress.postMessage(done / total);
    next = (Math.floor((done * PROGRESS_STEPS) / total) + 1) * (total / PROGRESS_STEPS);
  };
  return documents.map((document) => {
    const chunks = chunkText(document.text, chunking, (end) => heard(before + end));
    before += document.text.length;
    return { ...document, chunks };
  });
}

function failureOf(task: ParseTask, error: unknown): ParseFailure {
  if (error instanceof CodedError) {
    return { reason: error.details.reason === 'PARSE_LIMIT' ? 'PARSE_LIMIT' : 'PARSE_ERROR', message: error.message };
  }
  const name = task.kind === 'chunk-parsed' ? task.documents[0]?.sourceKey : task.input.name;
  // A parser that recursed past the stack: structure the bounds did not foresee.
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return { reason: 'PARSE_LIMIT', message: `${JSON.stringify(name)}: nested too deeply for the parser` };
  }
  return { reason: 'PARSE_ERROR', message: `${JSON.stringify(name)}: the parser failed (${error instanceof Error ? error.message : String(error)})`.slice(0, 2000) };
}

/** What makes a stored document current: its text, title, metadata and how it was chunked. */
function hashOf(text: string, title: string, metadata: Record<string, unknown>, chunking: ChunkingOptions): string {
  return createHash('sha256').update(JSON.stringify([chunking.size, chunking.overlap, ...(chunking.joinShortEnd ? ['joinShortEnd'] : []), title, metadata])).update('\n').update(text).digest('hex');
}
