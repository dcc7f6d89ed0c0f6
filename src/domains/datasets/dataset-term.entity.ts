import type { InferEntity } from '@mikro-orm/core';
import { defineTenantOwnedEntity } from '../tenancy/tenant-owned.js';
import { Dataset } from './dataset.entity.js';

/**
 * How many chunks of a dataset hold a term (a lexeme of the dataset's text-search
 * configuration): the document frequency BM25 weighs words by. Kept exact by statement-level
 * triggers on `chunks` (migrations/…_bm25_statistics.ts), in the transaction that adds,
 * replaces or deletes the chunks, so no code path can forget it; never written by the app.
 * Laid out for that write path (migrations/…_bm25_statistics_upkeep.ts): fillfactor 45 so the
 * updates are HOT (keep `chunkCount` out of every index), `term` compared bytewise (C).
 */
export const DatasetTerm = defineTenantOwnedEntity({
  name: 'DatasetTerm',
  tableName: 'dataset_terms',
  properties: (p) => ({
    dataset: () => p.manyToOne(Dataset).deleteRule('cascade'),
    term: p.text(),
    chunkCount: p.integer(),
  }),
  uniques: [{ properties: ['tenant', 'dataset', 'term'] }],
});
export type DatasetTerm = InferEntity<typeof DatasetTerm>;
