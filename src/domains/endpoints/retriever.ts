/**
 * Retrievers find an endpoint's passages for a question. They register by name like model
 * types, so another kind (pgvector similarity, where the extension exists) is one more file;
 * `full-text` is the one there is, PostgreSQL text search over the chunks' GIN index.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql, pgArray } from '../../db/bound-sql.js';

export interface RetrievalRequest {
  datasetIds: readonly string[];
  query: string;
  topK: number;
  minScore: number | null;
}

export interface RetrievedPassage {
  chunkId: string;
  documentId: string;
  datasetId: string;
  documentTitle: string;
  text: string;
  score: number;
  /** The best fragments of the text, matches wrapped in `**` (Markdown bold; never HTML). */
  highlight: string;
  metadata: Record<string, unknown>;
}

export interface Retriever {
  name: string;
  /** Runs in `em`'s transaction, bound to the endpoint's tenant (RLS confines it there too). */
  retrieve(em: EntityManager, request: RetrievalRequest): Promise<RetrievedPassage[]>;
}

const retrievers = new Map<string, Retriever>();

export function registerRetriever(retriever: Retriever): void {
  if (retrievers.has(retriever.name)) throw new Error(`retriever ${retriever.name} is registered twice`);
  retrievers.set(retriever.name, retriever);
}

export function retrieverNamed(name: string): Retriever {
  const retriever = retrievers.get(name);
  if (!retriever) throw new Error(`no retriever named ${name}`);
  return retriever;
}

interface Row {
  chunk_id: string;
  document_id: string;
  dataset_id: string;
  title: string;
  metadata: Record<string, unknown>;
  content: string;
  score: number;
  highlight: string;
  /** Has every word of the query (plain queries match any word). */
  complete: boolean;
}

/** Quotes, a leading minus, or `or`: the caller wrote search syntax, so it is taken as written. */
const SEARCH_SYNTAX = /"|(^|\s)-\S|\bor\b/i;

/**
 * websearch_to_tsquery understands what people type: words, "quoted phrases", `or`, and
 * `-word`. ts_rank_cd ranks by cover density; ts_headline runs only on the topK rows, as it
 * re-parses their text.
 *
 * The tsquery must be a constant of the statement, or PostgreSQL cannot use the GIN index
 * and reads every chunk: so one statement per text-search configuration (an endpoint's
 * datasets nearly always share one), the configuration bound as a parameter.
 *
 * A question in plain words ("how does the lock fill?") rarely has every word in one
 * passage, and websearch_to_tsquery wants them all. Plain queries therefore match any of
 * their words, and passages with all of them rank first; queries with search syntax keep
 * their exact meaning.
 */
export function fullTextSearchSql(
  { datasetIds, query, topK, minScore }: RetrievalRequest,
  language: string,
): { sql: string; params: (string | number | boolean | null)[] } {
  const strict = 'websearch_to_tsquery(?::regconfig, ?)';
  const matching = SEARCH_SYNTAX.test(query) ? strict : `replace(${strict}::text, ' & ', ' | ')::tsquery`;
  const rank = `ts_rank_cd(c.search, ${matching})`;
  const minimum = minScore === null ? '' : `and ${rank} >= ?::float8`;
  return {
    sql: `select h.id as chunk_id, h.document_id, h.dataset_id, d.title, d.metadata, h.content, h.score, h.complete,
                 ts_headline(?::regconfig, h.content, ${matching}, 'StartSel=**, StopSel=**, MaxFragments=2, MaxWords=30, MinWords=8, FragmentDelimiter=" … "') as highlight
            from (select c.id, c.document_id, c.dataset_id, c.content, ${rank} as score, c.search @@ ${strict} as complete
                    from chunks c
                   where c.dataset_id = any(?::uuid[]) and c.search @@ ${matching} ${minimum}
                   order by complete desc, score desc, c.id
                   limit ?) h
            join documents d on d.id = h.document_id
           order by h.complete desc, h.score desc, h.id`,
    params: [
      language, language, query,
      language, query, language, query,
      pgArray(datasetIds), language, query,
      ...(minScore === null ? [] : [language, query, minScore]),
      topK,
    ],
  };
}

export const fullTextRetriever: Retriever = {
  name: 'full-text',
  async retrieve(em, request) {
    if (request.datasetIds.length === 0) return [];
    const languages = await boundSql<{ language: string; ids: string[] }>(
      em,
      'select language, array_agg(id)::text[] as ids from datasets where id = any(?::uuid[]) group by language',
      [pgArray(request.datasetIds)],
    );
    const rows: Row[] = [];
    for (const { language, ids } of languages) {
      const { sql, params } = fullTextSearchSql({ ...request, datasetIds: ids }, language);
      rows.push(...(await boundSql<Row>(em, sql, params)));
    }
    return rows
      .sort((a, b) => Number(b.complete) - Number(a.complete) || Number(b.score) - Number(a.score) || a.chunk_id.localeCompare(b.chunk_id))
      .slice(0, request.topK)
      .map((row) => ({
        chunkId: row.chunk_id,
        documentId: row.document_id,
        datasetId: row.dataset_id,
        documentTitle: row.title,
        text: row.content,
        score: Number(row.score),
        highlight: row.highlight,
        metadata: row.metadata ?? {},
      }));
  },
};

registerRetriever(fullTextRetriever);
