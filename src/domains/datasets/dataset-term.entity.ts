import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { Dataset } from './dataset.entity.js';

/**
 * How many chunks, and how many documents, of a dataset hold a term (a lexeme of the dataset's
 * text-search configuration): the document frequency BM25 weighs words by is the latter. Kept exact by statement-level
 * triggers on `chunks` (migrations/…_bm25_statistics.ts), in the transaction that adds,
 * replaces or deletes the chunks, so no code path can forget it; never written by the app.
 * Laid out for that write path (migrations/…_bm25_statistics_upkeep.ts): fillfactor 45 so the
 * updates are HOT (keep `chunkCount` and the bounds out of every index), `term` compared bytewise (C).
 * `maxFrequency` and `minLength` bound what the term can add to a chunk's score (keyword
 * search's max-score pruning, migrations/…_bm25_term_bounds.ts): only insertions move them, so
 * after deletions they are looser than the chunks left, never tighter.
 */
export const DatasetTerm = defineTenantOwnedEntity({
  name: 'DatasetTerm',
  tableName: 'dataset_terms',
  properties: (p) => ({
    dataset: () => p.manyToOne(Dataset).deleteRule('cascade'),
    term: p.text(),
    chunkCount: p.integer(),
    /**
     * How many documents have a chunk holding the term: keyword search's idf counts rarity over
     * documents (migrations/…_bm25_document_idf.ts), so a word repeated across one long
     * document's chunks is not made to look common by its chunking.
     */
    documentCount: p.integer(),
    /** The most times the term occurs in one chunk (its positions in the tsvector). */
    maxFrequency: p.integer(),
    /** The fewest distinct lexemes of a chunk holding the term (BM25's length). */
    minLength: p.integer(),
  }),
  uniques: [{ properties: ['tenant', 'dataset', 'term'] }],
});
export type DatasetTerm = InferEntity<typeof DatasetTerm>;
