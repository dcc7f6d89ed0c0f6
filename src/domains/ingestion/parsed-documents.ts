/**
 * Parsed documents by item, up to a budget of heap: what PARSING parsed, kept so CHUNKING need
 * not parse it again. A job larger than the budget parses its later inputs twice rather than
 * holding the whole corpus in memory. Each entry is taken once (CHUNKING uses it and lets it go).
 *
 * The budget counts what documents cost, not their text alone: a one-character record of a
 * JSON array costs about 320 bytes of heap once received from its thread (its object, key,
 * title, hash and metadata; measured with v8.serialize/deserialize, 2026-12-07). Counted by
 * text, 16 M characters, every record of 32 files of 250 000 such records was kept (8 million
 * documents, 2 to 2.7 GB of the serving process's heap with the worker inline).
 */
import type { HashedDocument } from './parse-thread.js';

/** Kept between PARSING and CHUNKING, as parse-thread.ts's keptBytes estimates it: 32 MiB. */
export const PARSED_DOCUMENTS_BUDGET = 32 * 1024 * 1024;

export class ParsedDocuments {
  private readonly entries = new Map<string, { documents: HashedDocument[]; heapBytes: number }>();
  private heapBytes = 0;

  constructor(private readonly budget: number) {}

  /** Keeps an input's documents, `heapBytes` of them (the sum of their keptBytes), if they fit what is left of the budget. */
  keep(itemId: string, documents: HashedDocument[], heapBytes: number): void {
    if (this.heapBytes + heapBytes > this.budget) return;
    this.entries.set(itemId, { documents, heapBytes });
    this.heapBytes += heapBytes;
  }

  take(itemId: string): HashedDocument[] | undefined {
    const entry = this.entries.get(itemId);
    if (!entry) return undefined;
    this.entries.delete(itemId);
    this.heapBytes -= entry.heapBytes;
    return entry.documents;
  }
}
