import { Migration } from '@mikro-orm/migrations';
import { STATISTICS_TRIGGER_WITH_DOCUMENTS } from './Migration20261203003315_bm25_document_idf.js';

/**
 * Cheaper upkeep of BM25's statistics on insert (issue 19: ingestion cost), same results as the
 * trigger of Migration20261203003315_bm25_document_idf. Hand-written (a trigger function).
 *
 * The trigger's upsert unnests every new chunk's tsvector (about 66 lexemes a chunk: 660 000
 * rows for a 10 000-chunk INSERT) and aggregated them with `count(distinct document_id)` and
 * `min(length(n.search))`. The distinct count made PostgreSQL sort all 660 000 rows, and the
 * length call made every sorted row carry its chunk's whole tsvector (800 bytes): a 490 MB
 * external merge sort on disk per statement, half of the INSERT's time (EXPLAIN ANALYZE in
 * docs/benchmarks.md, "Ingestion throughput vs COPY", 2026-12-03).
 *
 * - Each row is narrowed before it is aggregated (`offset 0` keeps the subquery from being
 *   flattened back into the aggregate): ids, the lexeme, its frequency and the chunk's length.
 * - Documents are counted in two steps, (document, term) then term, which hash aggregation
 *   does without sorting the rows; the (document, term) step is the one the continued-document
 *   path had already.
 * - `work_mem` is raised for the trigger alone (64 MB) so that step's hash table (about 25 MB
 *   for 10 000 chunks) stays in memory; the server's default (4 MB) spilled it in five batches.
 */
const STATISTICS_TRIGGER_NARROW = STATISTICS_TRIGGER_WITH_DOCUMENTS
  // The function's own work_mem (restored when it returns).
  .replace(
    'create or replace function chunks_search_statistics() returns trigger\n  language plpgsql as $fn$',
    "create or replace function chunks_search_statistics() returns trigger\n  language plpgsql set work_mem = '64MB' as $fn$",
  );

export class Migration20261203061539_bm25_statistics_narrow_aggregation extends Migration {
  override async up(): Promise<void> {
    this.addSql(statisticsTriggerNarrowed());
  }

  override async down(): Promise<void> {
    this.addSql(STATISTICS_TRIGGER_WITH_DOCUMENTS);
  }
}

/** The insert paths rewritten: one statement for whole and continued documents alike, narrow rows, two-step counts. */
function narrowed(trigger: string): string {
  const start = trigger.indexOf("    if tg_op = 'INSERT' and kept is null then");
  const end = trigger.indexOf("    if tg_op in ('INSERT', 'UPDATE') then\n      update datasets d");
  if (start < 0 || end < 0) throw new Error('the statistics trigger changed: rewrite this migration against it');
  return `${trigger.slice(0, start)}${INSERT_PATH}${trigger.slice(end)}`;
}

const INSERT_PATH = `    if tg_op in ('INSERT', 'UPDATE') then
      -- In term order, so two transactions upserting into one dataset lock rows in one order.
      -- A term's highest frequency and the fewest lexemes of a chunk holding it only ever rise
      -- and fall here: kept through deletions they stay bounds, loose but never wrong. A
      -- (document, term) pair adds to the document count unless a kept chunk holds it already
      -- (kept is null for whole documents, the common case: no chunk to look at).
      insert into dataset_terms (id, tenant_id, dataset_id, term, chunk_count, document_count, max_frequency, min_length)
      select gen_random_uuid(), p.tenant_id, p.dataset_id, p.term, sum(p.chunks), count(*) filter (where k.term is null),
             max(p.max_frequency), min(p.min_length)
        from (select x.tenant_id, x.dataset_id, x.document_id, x.term, count(*) as chunks,
                     max(x.frequency) as max_frequency, min(x.length) as min_length
                from (select n.tenant_id, n.dataset_id, n.document_id, t.lexeme as term,
                             greatest(coalesce(cardinality(t.positions), 0), 1) as frequency, length(n.search) as length
                        from new_chunks n cross join lateral unnest(n.search) as t
                      offset 0) x
               group by 1, 2, 3, 4) p
        left join (select distinct c.document_id, t.term
                     from chunks c cross join lateral unnest(tsvector_to_array(c.search)) as t(term)
                    where kept is not null and c.id = any(kept)) k on k.document_id = p.document_id and k.term = p.term
       group by p.tenant_id, p.dataset_id, p.term
       order by p.dataset_id, p.term collate "C"
      on conflict (tenant_id, dataset_id, term) do update
        set chunk_count = dataset_terms.chunk_count + excluded.chunk_count,
            document_count = dataset_terms.document_count + excluded.document_count,
            max_frequency = greatest(dataset_terms.max_frequency, excluded.max_frequency),
            min_length = least(dataset_terms.min_length, excluded.min_length);
    end if;
`;

/** The trigger function this migration installs (Migration20261204140000_statistics_lock_order rewrites it from this text). */
export function statisticsTriggerNarrowed(): string {
  return narrowed(STATISTICS_TRIGGER_NARROW);
}
