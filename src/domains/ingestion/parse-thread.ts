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
/**
 * Documents as a thread posts them, a batch at a time, and as PARSING gets an input's: with
 * `heapBytes`, what they (not their chunks) will cost the heap that keeps them, estimated in the
 * thread (keptBytes) so the worker's event loop need not walk them to know.
 */
export interface DocumentBatch<T> {
  documents: T[];
  heapBytes: number;
}
/** What a thread answers: documents (chunk-parsed), the number of batches it posted (parse, chunk), or why the input failed. */
export type ThreadResult<T> = ParseResult<T> | { batches: number };

/**
 * A document's fixed cost beside its strings: its object, the headers of its four strings, its
 * metadata object and its slot in the input's array (measured: about 220 bytes for a record
 * whose strings hold 100 characters in all; rounded up).
 */
const DOCUMENT_OVERHEAD_BYTES = 256;

/**
 * What a document costs the heap that keeps it (parsed-documents.ts), estimated from above: the
 * fixed overhead, and two bytes a character of its text, key and hash (V8 keeps Latin-1
 * strings in one) and of `serialisedChars`, its title and metadata as JSON (a metadata object
 * costs about twice its JSON: 650 bytes a record with 160 characters of it, against 320 with
 * none). Computed here, where the metadata is serialised for the hash anyway.
 */
function keptBytes(document: HashedDocument, serialisedChars: number): number {
  return DOCUMENT_OVERHEAD_BYTES + 2 * (document.text.length + document.sourceKey.length + document.hash.length + serialisedChars);
}

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
      let heapBytes = 0;
      const documents = batch.map((document) => {
        const described = describedBy(document.title, document.metadata, chunking);
        const hashed = { ...document, hash: hashOf(described, document.text) };
        heapBytes += keptBytes(hashed, described.length);
        return hashed;
      });
      if (task.kind === 'parse') {
        task.batches.postMessage({ documents, heapBytes } satisfies DocumentBatch<HashedDocument>);
      } else if (batches === 0 && last) {
        // One batch (an input of one document, or a few records): progress through its text as it is chunked.
        task.batches.postMessage({ documents: withChunks(documents, chunking, task.progress), heapBytes } satisfies DocumentBatch<ChunkedDocument>);
      } else {
        // Many: progress by how much of the input has been read, each 1/PROGRESS_STEPS.
        task.batches.postMessage({ documents: withChunks(documents, chunking), heapBytes } satisfies DocumentBatch<ChunkedDocument>);
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

/** A document's title and metadata, and how it is chunked, as JSON: what its hash covers beside its text. */
function describedBy(title: string, metadata: Record<string, unknown>, chunking: ChunkingOptions): string {
  return JSON.stringify([chunking.size, chunking.overlap, ...(chunking.joinShortEnd ? ['joinShortEnd'] : []), title, metadata]);
}

/** What makes a stored document current: its text, title, metadata and how it was chunked. */
function hashOf(described: string, text: string): string {
  return createHash('sha256').update(described).update('\n').update(text).digest('hex');
}
