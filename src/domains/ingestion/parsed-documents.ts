/**
 * Parsed documents by item, up to a budget of characters: what PARSING parsed, kept so
 * CHUNKING need not parse it again. A job larger than the budget parses its later inputs
 * twice rather than holding the whole corpus in memory. Each entry is taken once (CHUNKING
 * uses it and lets it go).
 */
import type { HashedDocument } from './parse-thread.js';

export class ParsedDocuments {
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
