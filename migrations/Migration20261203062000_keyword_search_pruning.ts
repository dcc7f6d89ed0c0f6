import { Migration } from '@mikro-orm/migrations';
import { BM25_SEARCH_WITH_DOCUMENTS } from './Migration20261203003315_bm25_document_idf.js';

/**
 * Keyword search's slow tail at 1 M chunks (issue 19, "Performance"): `sluice_bm25_search`'s
 * max-score steps score fewer chunks, with the same results (exact, as before).
 *
 * - **Within a step**, a chunk holding the step's word and some of the words not yet taken
 *   can score at most the sum of those words' bounds; below the score the top list needs, it
 *   cannot enter. A step used to score every chunk holding its word; it now asks the GIN index
 *   for those holding its word and a set of the later words whose bounds reach that score
 *   (`sluice_bm25_sufficient`, a tsquery: `a & (b | c)`, …), when at most 8 words are left.
 * - **A first threshold** for questions of 3 to 8 words: the first 20 · topK chunks found
 *   holding two of the words or more (not all). Any scored chunks give a valid threshold;
 *   these give a high one, so the first step need not score every chunk of the rarest word.
 *   The steps may score some of them again; the lists are merged by chunk.
 * - It says how many chunks it scored (`raise debug`), which the benchmarks count: a measure
 *   of the work that the machine's load does not move.
 *
 * Complete passages (all the words) are still all scored, up to the row budget. The scores are
 * unchanged, so `sluice_keyword_search`'s single pass (bit-identical to this function's) is not
 * redefined. Hand-written (functions).
 */
const SUFFICIENT = String.raw`create or replace function sluice_bm25_sufficient(term_queries tsquery[], bounds float8[], first int, need float8)
returns tsquery
language plpgsql immutable
as $fn$
-- The chunks that hold a set of the terms first .. n whose bounds add up to at least need, as a
-- tsquery: empty when need is met already (every chunk), null when no set can meet it (none).
-- Exponential in the number of terms: the caller passes at most 8.
declare
  with_first tsquery;
  without_first tsquery;
begin
  if need <= 0 then return ''::tsquery; end if;
  if first > cardinality(term_queries) or (select coalesce(sum(x), 0) from unnest(bounds[first:]) as x) < need then
    return null;
  end if;
  with_first := sluice_bm25_sufficient(term_queries, bounds, first + 1, need - bounds[first]);
  if with_first is not null then
    with_first := case when numnode(with_first) = 0 then term_queries[first] else term_queries[first] && with_first end;
  end if;
  without_first := sluice_bm25_sufficient(term_queries, bounds, first + 1, need);
  if with_first is null then return without_first; end if;
  if without_first is null then return with_first; end if;
  return with_first || without_first;
end $fn$;`;

export const BM25_SEARCH_PRUNED = String.raw`create or replace function sluice_bm25_search(dataset_ids uuid[], config regconfig, query text, strict boolean, top_k int, row_budget int, single_pass_limit int, excluded tsquery default null)
returns table (chunk_id uuid, document_id uuid, dataset_id uuid, title text, metadata jsonb, content text, score float8, complete boolean)
language plpgsql stable
-- At most top_k rows (50 at most), with everything the retriever shows, looked up by key
-- here: joined outside, the planner expected 1 000 rows and read the whole dataset's chunks.
rows 50
as $fn$
#variable_conflict use_column
declare
  terms text[];           -- the question's lexemes found in the datasets, rarest first
  bounds float8[];        -- the most each term can add to a chunk's score (see below)
  term_queries tsquery[];
  idfs float8[];          -- per dataset (in dataset_ids order), per term: idf, 0 where absent
  average_lengths float8[];
  frequencies text := '';  -- each term's frequency in candidate c: t1, t2, …
  score_sql text := '0';  -- BM25 (k1 1.2, b 0.75) from them
  -- $10: what every candidate must satisfy besides its words (the question's exclusions).
  candidates constant text := $q$(select id, d, norm %s from (
      select id, search, array_position($1, dataset_id) - 1 as d,
             1.2 * (0.25 + 0.75 * length(search) / $5[array_position($1, dataset_id)]) as norm
        from chunks where dataset_id = any($1) and search @@ $2 and ($10::tsquery is null or search @@ $10) %s limit $8) f) c$q$;
  matching tsquery;       -- what a complete passage matches
  ids uuid[]; scores float8[]; flags boolean[];
  complete_ids uuid[]; complete_scores float8[];
  best_ids uuid[] := '{}'; best_scores float8[] := '{}';
  seen tsquery;           -- the terms whose chunks are scored already
  needed int;
  budget int := row_budget;  -- chunks this search may still score
  examined int;
  remaining float8;
  threshold float8;
  matching_chunks bigint;  -- at most this many chunks hold any of the terms (sum of their counts)
  -- A step: how many chunks it scored (at most $8), and the best $9 of them by score.
  scored_steps constant text := $q$
    with scored as (select c.id, %s as score from %s)
    select (select count(*) from scored)::int,
           (select array_agg(id order by score desc, id) from (select * from scored order by score desc, id limit $9) t),
           (select array_agg(score order by score desc, id) from (select * from scored order by score desc, id limit $9) t) $q$;
  step tsquery;           -- the chunks a step scores
  rest tsquery;
begin
  -- An exclusion of stop words only ("-the") excludes nothing.
  if excluded is not null and numnode(excluded) = 0 then excluded := null; end if;
  -- Statistics rows are read by (dataset, term) pairs given as arrays, so the unique index
  -- (tenant_id, dataset_id, term) finds them: a join on the terms can be planned as a scan of
  -- the dataset's whole vocabulary (it was, on tables autovacuum had not analysed yet).
  terms := array(select distinct unnest(tsvector_to_array(to_tsvector(config, query))));
  -- A term's bound is its BM25 term score at its highest frequency in the shortest chunk that
  -- holds it (both kept by the statistics triggers; never below the truth, so pruning stays
  -- exact), raised by a millionth so rounding can never put it under a score it bounds.
  -- Rarest first (by chunks: the cheapest chunks to score come first).
  select array_agg(s.term order by s.chunks, s.term), array_agg(s.bound order by s.chunks, s.term), sum(s.chunks)
    into terms, bounds, matching_chunks
    from (select x.term,
                 max(ln(1 + (d.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5))
                     * x.max_frequency * 2.2 / (x.max_frequency + 1.2 * (0.25 + 0.75 * x.min_length
                       / greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1)))) * 1.000001 as bound,
                 sum(x.chunk_count) as chunks
            from dataset_terms x join datasets d on d.id = x.dataset_id
           where x.dataset_id = any(dataset_ids) and x.term = any(terms)
           group by x.term) s;
  if terms is null then return; end if;

  select array_agg(coalesce(ln(1 + (d.search_document_count - x.document_count + 0.5) / (x.document_count + 0.5)), 0) order by ds.ord, t.ord)
    into idfs
    from unnest(dataset_ids) with ordinality as ds(id, ord)
    cross join unnest(terms) with ordinality as t(term, ord)
    left join datasets d on d.id = ds.id
    left join (select * from dataset_terms where dataset_id = any(dataset_ids) and term = any(terms)) x
           on x.dataset_id = ds.id and x.term = t.term;
  select array_agg(greatest(coalesce(d.search_lexeme_count::float8 / nullif(d.search_chunk_count, 0), 1), 1) order by ds.ord)
    into average_lengths
    from unnest(dataset_ids) with ordinality as ds(id, ord) left join datasets d on d.id = ds.id;
  select array_agg(lexeme_query(t) order by ord) into term_queries from unnest(terms) with ordinality as u(t, ord);
  for i in 1 .. cardinality(terms) loop
    frequencies := frequencies || format(', lexeme_frequency(search, $3[%s]) as t%s', i, i);
    score_sql := score_sql || format(' + $4[c.d * %s + %s] * c.t%s * 2.2 / (c.t%s + c.norm)', cardinality(terms), i, i, i);
  end loop;

  if strict then
    matching := websearch_to_tsquery(config, query);
  else
    select string_agg(q::text, ' & ')::tsquery into matching from unnest(term_queries) as q;
  end if;

  -- Few matching chunks (a small dataset, or rare words): score them all in one statement,
  -- complete passages first. Exact, and cheaper than the steps below for so few.
  if not strict and matching_chunks <= single_pass_limit then
    execute format($q$
      with scored as (select c.id, %s as score, c.search @@ $7 as complete from %s)
      select array_agg(id order by complete desc, score desc, id), array_agg(score order by complete desc, score desc, id),
             array_agg(complete order by complete desc, score desc, id)
        from (select * from scored order by complete desc, score desc, id limit $9) t $q$,
      score_sql, format(candidates, frequencies || ', search', ''))
      into ids, scores, flags
      using dataset_ids, (select string_agg(q::text, ' | ')::tsquery from unnest(term_queries) as q), term_queries, idfs,
            average_lengths, seen, matching, matching_chunks, top_k, excluded;
    return query
      select c.id, c.document_id, c.dataset_id, d.title::text, d.metadata, c.content, r.score, r.complete
        from unnest(ids, scores, flags) with ordinality as r(id, score, complete, ord)
        join chunks c on c.id = r.id
        join documents d on d.id = c.document_id
       order by r.ord;
    return;
  end if;

  -- Complete passages first (all the words, or the search syntax as written), by BM25.
  execute format(scored_steps, score_sql, format(candidates, frequencies, ''))
    into examined, complete_ids, complete_scores
    using dataset_ids, matching, term_queries, idfs, average_lengths, seen, matching, budget, top_k, excluded;
  budget := budget - examined;
  complete_ids := coalesce(complete_ids, '{}');
  complete_scores := coalesce(complete_scores, '{}');
  needed := top_k - cardinality(complete_ids);

  -- A first threshold (questions of 3 to 8 words): the first chunks found holding two words or
  -- more, not all. Any chunks' scores give a threshold that pruning may use; these give a high
  -- one, so the first step below need not score every chunk of the rarest word. The steps score
  -- some of them again (the same score): the lists are merged by chunk.
  if not strict and needed > 0 and cardinality(terms) between 3 and 8 then
    select string_agg(format('(%s & %s)', a.q, b.q), ' | ')::tsquery into step
      from unnest(term_queries) with ordinality as a(q, i) join unnest(term_queries) with ordinality as b(q, i) on b.i > a.i;
    execute format(scored_steps, score_sql, format(candidates, frequencies, 'and not (search @@ $7)'))
      into examined, ids, scores
      using dataset_ids, step, term_queries, idfs, average_lengths, seen, matching, least(budget, 20 * top_k), needed, excluded;
    budget := budget - examined;
    best_ids := coalesce(ids, '{}');
    best_scores := coalesce(scores, '{}');
  end if;

  -- Then passages with some of the words: max-score pruning. Terms are taken rarest first; a
  -- chunk not yet scored holds only terms not yet taken, so once their bounds add up to less
  -- than the score the top list needs, no such chunk can enter it and the rest is skipped.
  -- Within a step, a chunk whose words' bounds add up to less than that score cannot enter
  -- either: the step scores only the chunks holding its word and enough of the words not yet
  -- taken (sluice_bm25_sufficient), found by the GIN index.
  if not strict and needed > 0 and cardinality(terms) > 1 then
    for i in 1 .. cardinality(terms) loop
      select coalesce(sum(x), 0) into remaining from unnest(bounds[i:]) as x;
      threshold := case when cardinality(best_scores) >= needed then best_scores[needed] else 0 end;
      exit when remaining < threshold or budget <= 0;
      step := term_queries[i];
      if threshold > 0 and bounds[i] < threshold and cardinality(terms) - i <= 8 then
        rest := sluice_bm25_sufficient(term_queries, bounds, i + 1, threshold - bounds[i]);
        -- Never null here (the words left can reach the threshold together), nor empty.
        if rest is not null and numnode(rest) > 0 then step := step && rest; end if;
      end if;
      execute format(scored_steps, score_sql, format(candidates, frequencies, 'and not (search @@ $7) and ($6::tsquery is null or not (search @@ $6))'))
        into examined, ids, scores
        using dataset_ids, step, term_queries, idfs, average_lengths, seen, matching, budget, needed, excluded;
      budget := budget - examined;
      if ids is not null then
        select array_agg(m.id order by m.score desc, m.id), array_agg(m.score order by m.score desc, m.id)
          into best_ids, best_scores
          from (select * from (select distinct on (id) id, score from unnest(best_ids || ids, best_scores || scores) as u(id, score) order by id) d
                 order by score desc, id limit needed) m;
      end if;
      seen := case when seen is null then term_queries[i] else seen || term_queries[i] end;
    end loop;
  end if;
  -- How many chunks were scored: the work pruning left (bench/search-budget.ts reads it).
  raise debug 'sluice_bm25_search scored % chunks', row_budget - budget;

  return query
    select c.id, c.document_id, c.dataset_id, d.title::text, d.metadata, c.content, r.score, r.complete
      from unnest(complete_ids || best_ids, complete_scores || best_scores,
                  array_fill(true, array[cardinality(complete_ids)]) || array_fill(false, array[cardinality(best_ids)]))
           with ordinality as r(id, score, complete, ord)
      join chunks c on c.id = r.id
      join documents d on d.id = c.document_id
     order by r.ord;
end $fn$;`;

export class Migration20261203062000_keyword_search_pruning extends Migration {

  override async up(): Promise<void> {
    this.addSql(SUFFICIENT);
    this.addSql(BM25_SEARCH_PRUNED);
  }

  override async down(): Promise<void> {
    this.addSql(BM25_SEARCH_WITH_DOCUMENTS);
    this.addSql(`drop function sluice_bm25_sufficient(tsquery[], float8[], int, float8);`);

  }

}
