/**
 * Retrievers find an endpoint's passages for a question. They register by name like model
 * types, so another kind is one more file; `full-text` is keyword search with BM25 over the
 * chunks' GIN index and per-dataset term statistics.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { isStatementTimeout, pgArray, preparedSql } from '../../db/bound-sql.js';
import { ValidationError } from '../errors.js';
import { escapedForMarksSql, joinedMarks } from './highlight-marks.js';

export interface RetrievalRequest {
  datasetIds: readonly string[];
  query: string;
  topK: number;
  minScore: number | null;
  /** Longest the search statement may run; past it the search is cancelled (QUERY_TOO_COSTLY). */
  timeoutMs?: number;
}

export interface RetrievedPassage {
  chunkId: string;
  documentId: string;
  datasetId: string;
  documentTitle: string;
  text: string;
  score: number;
  /** The best fragments of the text, matches wrapped in `**` (Markdown bold; never HTML), the text's `*` and `\` escaped (highlight-marks.ts). */
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

/** A passage as the search statements return it (keyword and semantic alike). */
export interface PassageRow {
  chunk_id: string;
  document_id: string;
  dataset_id: string;
  title: string;
  metadata: Record<string, unknown> | null;
  content: string;
  score: number | string;
}

/** A row of the search statements as a passage, with the highlight the retriever made for it. */
export function passageFrom(row: PassageRow, highlight: string): RetrievedPassage {
  return {
    chunkId: row.chunk_id,
    documentId: row.document_id,
    datasetId: row.dataset_id,
    documentTitle: row.title,
    text: row.content,
    score: Number(row.score),
    highlight,
    metadata: row.metadata ?? {},
  };
}

interface Row extends PassageRow {
  highlight: string;
  /** Has every word of the query (plain queries match any word). */
  complete: boolean;
}

/**
 * Quotes or `OR` in capitals: the caller wrote search syntax, so it is taken as written. A
 * lower-case "or" is a word of a question ("gusts or blasts"), as search engines read it: until
 * 2026-12-02 it switched 5 of Cranfield's 113 questions to all-words matching.
 */
const SEARCH_SYNTAX = /"|\bOR\b/g;

/**
 * `-word` or `-"a phrase"`: an exclusion, wherever it stands (a minus inside a word,
 * "lift-to-drag", is not one, nor a minus before a digit: "-40" is a number, which until
 * 2026-12-05 removed every passage holding 40). One reading for both rankings; a plain
 * question has no quotes (they make it search syntax), so there it is always `-word`.
 */
const EXCLUDED_ITEM = /(^|\s)-(?!\d)("[^"]*"?|\S+)/g;

/** The exclusions of `query` as search syntax ('-harbour -"clockwork lamp"'), or null. */
function exclusionsOf(query: string): string | null {
  const exclusions = [...query.matchAll(EXCLUDED_ITEM)].map((match) => `-${match[2]}`);
  return exclusions.length > 0 ? exclusions.join(' ') : null;
}

/**
 * How the search reads a query: search syntax as written (`strict`), or plain words (any of
 * them, all of them first) minus the words excluded with `-word`. A question whose only syntax
 * is an exclusion stays a question: until 2026-12-03 "supersonic flow -dash experimental papers"
 * required all four other words and found nothing (Cranfield's question 125).
 */
export function readQuery(query: string): { strict: boolean; words: string; exclusions: string | null } {
  // `search`, not `test`: it ignores a global pattern's lastIndex.
  if (query.search(SEARCH_SYNTAX) !== -1) return { strict: true, words: query, exclusions: null };
  const exclusions = exclusionsOf(query);
  if (exclusions === null) return { strict: false, words: query, exclusions: null };
  return { strict: false, words: query.replace(EXCLUDED_ITEM, ' '), exclusions };
}

/**
 * How a semantic ranking reads a query (SEMANTIC and HYBRID endpoints): the text to embed, the
 * query without its exclusions, quotes and `OR` (an excluded word embedded with the rest would
 * pull its passages closer); and its exclusions as search syntax ('-harbour -"clockwork lamp"'),
 * which remove the passages holding them, as in the keyword ranking. Phrases and `OR` shape the
 * keyword ranking only: meaning has no phrase. Until 2026-12-05 the raw query was embedded and
 * nothing was excluded: "zeppelin -harbour" returned passages full of "harbour".
 */
export function readSemanticQuery(query: string): { text: string; exclusions: string | null } {
  const text = query
    .replace(EXCLUDED_ITEM, ' ')
    .replace(SEARCH_SYNTAX, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { text, exclusions: exclusionsOf(query) };
}

/**
 * Characters the text-search parser may read as part of a compound ("x-ray"), a path, a host,
 * an address or a number with a point, the tokens `plain_question_text` rewrites. A plain
 * question with none of them is only words and numbers between blanks, which that function
 * returns as they were: the retriever then skips it (a SQL function run at every search, about
 * 0.15 ms, a tenth of a search on a small dataset). test/endpoints/bm25.test.ts checks the two
 * readings agree.
 */
const TOKEN_SYNTAX = /[-./@:_~\\&<>+]/;

/** Whether a plain question needs `plain_question_text` to read as its words. */
export function readsAsTokens(words: string): boolean {
  return TOKEN_SYNTAX.test(words);
}

/**
 * The most chunks one keyword search scores, in all its steps (see `sluice_bm25_search` in
 * migrations/…_keyword_search_pruning.ts). A search that needs more (questions whose rarest
 * words are each in thousands of chunks of a large dataset) stops there and ranks what it
 * scored. 3 000 since 2026-12-03 (5 000 before): once the steps pruned within themselves, at
 * 1 M chunks 3 000 gave the top 5 of exact BM25 for 295 of 300 benchmark questions (99.2 % of
 * passages shared; 5 000: 298, 99.9 %) and a p95 a fifth lower (`npm run bench --
 * search-budget`, docs/endpoints.md). Small datasets never reach it.
 */
export const KEYWORD_ROW_BUDGET = 3000;

/**
 * When the question's words are in no more chunks than this together, all of them are scored
 * in one statement (exact, and cheapest for so few); above it the max-score steps run, which
 * usually score far fewer (complete passages first, then rare words). It was the row budget
 * (5 000) until 2026-12-02: a two-word question over 1 400 chunks then scored all of them,
 * where the steps stop after the few dozen that hold both words. 500 measured best at 20 k and
 * 200 k chunks (docs/benchmarks.md); test/endpoints/bm25.test.ts lowers it to 0. Above it, within
 * `KEYWORD_ROW_BUDGET`, the single pass still serves a question the steps would score whole
 * anyway (its words but the commonest in fewer chunks than topK; since 2026-12-05,
 * migrations/…_keyword_single_pass_when_steps_score_all.ts) or could save little or nothing on
 * (its words but the rarest, whose chunks the steps score whole, in at most this many chunks;
 * two words, the commoner one able to add as much to a score as the rarer one;
 * migrations/…_keyword_single_pass_when_steps_save_little.ts).
 */
export const KEYWORD_SINGLE_PASS_LIMIT = 500;

/**
 * Keyword search: BM25 over the chunks (term rarity from each dataset's exact statistics,
 * chunk length against the dataset's average), in `sluice_bm25_search`.
 *
 * A question in plain words ("how does the lock fill?") rarely has every word in one
 * passage: plain questions match any of their words, and passages with all of them rank
 * first; queries with search syntax (websearch_to_tsquery: "phrases", `OR`) keep their exact
 * meaning, and `-word` alone excludes passages from a plain question (`readQuery`). A plain
 * question is read as its words first (`plain_question_text`, migrations/…_bm25_question_words.ts:
 * a hyphenated compound as its parts, a path-like token such as "/boat-tail/" as itself and its
 * words), for the search and the highlight alike. How rare a word is counts the documents that
 * hold it, not the chunks (migrations/…_bm25_document_idf.ts).
 * One statement: the datasets are grouped by their text-search
 * configuration (an endpoint's datasets nearly always share one) and each group searched with
 * its own; ts_headline runs only on the rows returned, as it re-parses text.
 */
export function fullTextSearchSql({ datasetIds, query, topK, minScore }: RetrievalRequest): { sql: string; params: (string | number | boolean | null)[] } {
  const { strict, words, exclusions } = readQuery(query);
  // What the search reads, once per text-search configuration (`g.question`, `g.excluded`).
  const question = strict || !readsAsTokens(words) ? '?::text' : 'plain_question_text(language::regconfig, ?)';
  const excluded = exclusions === null ? 'null::tsquery' : 'websearch_to_tsquery(language::regconfig, ?)';
  const highlighted = strict
    ? 'websearch_to_tsquery(h.language, h.question)'
    : `replace(plainto_tsquery(h.language, h.question)::text, ' & ', ' | ')::tsquery`;
  return {
    sql: `select h.chunk_id, h.document_id, h.dataset_id, h.title, h.metadata, h.content, h.score, h.complete,
                 ts_headline(h.language, ${escapedForMarksSql('h.content')}, ${highlighted}, 'StartSel=**, StopSel=**, MaxFragments=2, MaxWords=30, MinWords=8, FragmentDelimiter=" … "') as highlight
            from (select g.language, g.question, s.*
                    from (select language::regconfig as language, ${question} as question, ${excluded} as excluded, array_agg(id) as ids
                            from datasets where id = any(?::uuid[]) group by language) g
                    cross join lateral sluice_keyword_search(g.ids, g.language, g.question, ?, ?, ?, ?, g.excluded) s
                   -- A passage matched only by what the question excludes ("-\"clockwork lamp\"", "a OR -b")
                   -- holds none of its words: score 0, not an answer (until 2026-12-05 such passages filled topK).
                   where s.score > 0 ${minScore === null ? '' : 'and s.score >= ?::float8'}
                   order by s.complete desc, s.score desc, s.chunk_id
                   limit ?) h
           order by h.complete desc, h.score desc, h.chunk_id`,
    params: [words, ...(exclusions === null ? [] : [exclusions]), pgArray(datasetIds), strict, topK, KEYWORD_ROW_BUDGET, KEYWORD_SINGLE_PASS_LIMIT, ...(minScore === null ? [] : [minScore]), topK],
  };
}

/**
 * A search statement cancelled at its time limit, as the caller's error: a question whose words
 * are each in very many chunks (hundreds of numbers over a large dataset) costs more than one
 * query may. Before 2026-12-05 nothing bounded it: twelve such questions ran for minutes each
 * and held every database connection of the server.
 */
export function searchTimedOut(timeoutMs: number | undefined): (error: unknown) => never {
  return (error) => {
    if (isStatementTimeout(error)) {
      throw new ValidationError(`The search took longer than the ${timeoutMs} ms one query may take, and was stopped; ask with fewer or rarer words`, {
        field: 'query',
        reason: 'QUERY_TOO_COSTLY',
        timeoutMs,
      });
    }
    throw error;
  };
}

export const fullTextRetriever: Retriever = {
  name: 'full-text',
  async retrieve(em, request) {
    if (request.datasetIds.length === 0) return [];
    const { sql, params } = fullTextSearchSql(request);
    const rows = await preparedSql<Row>(em, sql, params, request.timeoutMs).catch(searchTimedOut(request.timeoutMs));
    return rows.map((row) => passageFrom(row, joinedMarks(row.highlight)));
  },
};

registerRetriever(fullTextRetriever);
