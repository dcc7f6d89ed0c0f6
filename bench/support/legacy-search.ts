/**
 * The keyword search as it was until 2026-12-02 (ts_rank_cd over every matching chunk, commit
 * 2f8e06e), kept only as the search benchmark's "before" reference: run on the same data in the
 * same run, it shows what the BM25 search (sluice_bm25_search) changed, on small datasets too.
 */
import type { RetrievalRequest } from '../../src/domains/endpoints/retriever.js';

const SEARCH_SYNTAX = /"|(^|\s)-\S|\bor\b/i;

export function legacyFullTextSearchSql(
  { datasetIds, query, topK }: RetrievalRequest,
  language: string,
): { sql: string; params: (string | number | boolean | null)[] } {
  const strict = 'websearch_to_tsquery(?::regconfig, ?)';
  const matching = SEARCH_SYNTAX.test(query) ? strict : `replace(${strict}::text, ' & ', ' | ')::tsquery`;
  const rank = `ts_rank_cd(c.search, ${matching})`;
  return {
    sql: `select h.id as chunk_id, h.document_id, h.dataset_id, d.title, d.metadata, h.content, h.score, h.complete,
                 ts_headline(?::regconfig, h.content, ${matching}, 'StartSel=**, StopSel=**, MaxFragments=2, MaxWords=30, MinWords=8, FragmentDelimiter=" … "') as highlight
            from (select c.id, c.document_id, c.dataset_id, c.content, ${rank} as score, c.search @@ ${strict} as complete
                    from chunks c
                   where c.dataset_id = any(?::uuid[]) and c.search @@ ${matching}
                   order by complete desc, score desc, c.id
                   limit ?) h
            join documents d on d.id = h.document_id
           order by h.complete desc, h.score desc, h.id`,
    params: [language, language, query, language, query, language, query, `{${datasetIds.join(',')}}`, language, query, topK],
  };
}
