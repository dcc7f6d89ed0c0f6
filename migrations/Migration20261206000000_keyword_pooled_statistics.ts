import { Migration } from '@mikro-orm/migrations';
import { editedSql } from './function-edits.js';
import { BM25_SEARCH_STATIC_STEPS } from './Migration20261205010000_keyword_steps_cached_plans.js';
import { KEYWORD_SEARCH_CANDIDATES_UNMATERIALIZED } from './Migration20261205120000_keyword_single_pass_candidates_unmaterialized.js';

/**
 * Keyword search over several datasets scores their chunks as one collection (user review
 * stop45, F8): a term's rarity counts its documents among all the datasets' documents, and a
 * chunk's length is measured against all their chunks' average. Until now each dataset's own
 * statistics were used, so the same passage scored 10.8 in a large dataset and 1.5 in a small one
 * where the word was common, and an endpoint over both ranked by which dataset a passage was in.
 * Over one dataset nothing changes, to the bit (the same sums, of one row, in the same numeric
 * types). Hand-written (functions); both search functions edited where they read statistics,
 * which now come from two new functions. Exact as before: each dataset's statistics are exact,
 * and sums of them are too; a term's pruning bound is its largest over the datasets, computed
 * with the pooled rarity and average.
 */
const POOLED = `create or replace function sluice_pooled_average(dataset_ids uuid[]) returns float8
language sql stable parallel safe as $$
  -- The datasets' chunks' average length in lexemes, as one collection (at least 1).
  select greatest(coalesce(sum(d.search_lexeme_count)::float8 / nullif(sum(d.search_chunk_count), 0), 1), 1)
    from datasets d where d.id = any(dataset_ids)
$$;
create or replace function sluice_pooled_idfs(dataset_ids uuid[], terms text[]) returns table(term text, idf numeric)
language sql stable parallel safe as $$
  -- Each term's BM25 idf over the datasets as one collection: the documents holding it among
  -- all their documents. Terms in none of them have no row.
  select x.term, ln(1 + (n.documents - sum(x.document_count) + 0.5) / (sum(x.document_count) + 0.5))
    from dataset_terms x
    cross join (select sum(d.search_document_count) as documents from datasets d where d.id = any(dataset_ids)) n
   where x.dataset_id = any(dataset_ids) and x.term = any(terms)
   group by x.term, n.documents
$$;`;

const NAME = 'Migration20261206000000_keyword_pooled_statistics';

export const BM25_SEARCH_POOLED = editedSql(
  BM25_SEARCH_STATIC_STEPS,
  [
    [
      `                 max(ln(1 + (d.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5))
                     * x.max_frequency * 2.2 / (x.max_frequency + 1.2 * (0.25 + 0.75 * x.min_length
                       / greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1)))) * 1.000001 as bound,
                 sum(x.chunk_count) as chunks
            from dataset_terms x join datasets d on d.id = x.dataset_id`,
      `                 max(p.idf * x.max_frequency * 2.2 / (x.max_frequency + 1.2 * (0.25 + 0.75 * x.min_length
                       / sluice_pooled_average(dataset_ids)))) * 1.000001 as bound,
                 sum(x.chunk_count) as chunks
            -- The datasets as one collection (Migration20261206000000_keyword_pooled_statistics).
            from dataset_terms x join sluice_pooled_idfs(dataset_ids, terms) p on p.term = x.term`,
    ],
    [
      `  select array_agg(coalesce(ln(1 + (d.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5)), 0) order by ds.ord, t.ord)
    into idfs
    from unnest(dataset_ids) with ordinality as ds(id, ord)
    cross join unnest(terms) with ordinality as t(term, ord)
    left join datasets d on d.id = ds.id
    left join (select * from dataset_terms where dataset_id = any(dataset_ids) and term = any(terms)) x
           on x.dataset_id = ds.id and x.term = t.term;
  select array_agg(greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1) order by ds.ord)
    into average_lengths
    from unnest(dataset_ids) with ordinality as ds(id, ord) left join datasets d on d.id = ds.id;`,
      `  -- One collection: every dataset gets the pooled values (a dataset without a term has no
  -- chunk holding it, so its idf there multiplies a frequency of 0).
  select array_agg(coalesce(p.idf, 0) order by ds.ord, t.ord)
    into idfs
    from unnest(dataset_ids) with ordinality as ds(id, ord)
    cross join unnest(terms) with ordinality as t(term, ord)
    left join sluice_pooled_idfs(dataset_ids, terms) p on p.term = t.term;
  average_lengths := array_fill(sluice_pooled_average(dataset_ids), array[cardinality(dataset_ids)]);`,
    ],
  ],
  NAME,
);

export const KEYWORD_SEARCH_POOLED = editedSql(
  KEYWORD_SEARCH_CANDIDATES_UNMATERIALIZED,
  [
    [
      `    select x.dataset_id, x.term, x.chunk_count, x.document_count, d.search_document_count,
           -- The term's bound in this dataset, as sluice_bm25_search computes it.
           ln(1 + (d.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5))
             * x.max_frequency * 2.2 / (x.max_frequency + 1.2 * (0.25 + 0.75 * x.min_length
               / greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1))) * 1.000001 as bound
      from dataset_terms x join datasets d on d.id = x.dataset_id
     where x.dataset_id = any(dataset_ids)
       and x.term = any(array(select distinct unnest(tsvector_to_array(to_tsvector(config, query)))))`,
      `    select x.dataset_id, x.term, x.chunk_count, p.idf,
           -- The term's bound in this dataset, as sluice_bm25_search computes it: rarity and
           -- average length of the datasets as one collection (Migration20261206000000_keyword_pooled_statistics).
           p.idf * x.max_frequency * 2.2 / (x.max_frequency + 1.2 * (0.25 + 0.75 * x.min_length
               / sluice_pooled_average(dataset_ids))) * 1.000001 as bound
      from dataset_terms x
      join sluice_pooled_idfs(dataset_ids, array(select distinct unnest(tsvector_to_array(to_tsvector(config, query))))) p on p.term = x.term
     where x.dataset_id = any(dataset_ids)
       and x.term = any(array(select distinct unnest(tsvector_to_array(to_tsvector(config, query)))))`,
    ],
    [
      `    -- Per dataset: its average chunk length and each term's idf (0 where it lacks the term).
    select ds.id as dataset_id,
           greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1) as average,
           array(select coalesce(ln(1 + (x.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5)), 0)::float8
                   from unnest(q.terms) with ordinality as t(term, ord)
                   left join found x on x.dataset_id = ds.id and x.term = t.term
                  order by t.ord) as idfs
      from small q
      cross join unnest(dataset_ids) as ds(id)
      left join datasets d on d.id = ds.id`,
      `    -- Per dataset, the same: the datasets' average chunk length and each term's idf, as one collection.
    select ds.id as dataset_id,
           sluice_pooled_average(dataset_ids) as average,
           array(select coalesce((select max(x.idf) from found x where x.term = t.term), 0)::float8
                   from unnest(q.terms) with ordinality as t(term, ord)
                  order by t.ord) as idfs
      from small q
      cross join unnest(dataset_ids) as ds(id)`,
    ],
  ],
  NAME,
);

export class Migration20261206000000_keyword_pooled_statistics extends Migration {
  override async up(): Promise<void> {
    this.addSql(POOLED);
    this.addSql(BM25_SEARCH_POOLED);
    this.addSql(KEYWORD_SEARCH_POOLED);
  }

  override async down(): Promise<void> {
    this.addSql(KEYWORD_SEARCH_CANDIDATES_UNMATERIALIZED);
    this.addSql(BM25_SEARCH_STATIC_STEPS);
    this.addSql('drop function if exists sluice_pooled_idfs(uuid[], text[]); drop function if exists sluice_pooled_average(uuid[]);');
  }
}
