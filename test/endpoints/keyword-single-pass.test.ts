/**
 * Keyword search's single pass in plain SQL (`sluice_keyword_search`, issue 19: small datasets
 * no slower than the ts_rank_cd statement it replaced) ranks exactly as `sluice_bm25_search`
 * does: same chunks, same order, bit-identical scores, for one dataset and for several; it is
 * inlined into the caller's statement (no procedural step), and questions with more matching
 * chunks or search syntax still go through `sluice_bm25_search`'s max-score steps.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { endpointOver, queryEndpoint, type EndpointSetup } from '../support/endpoints.js';
import { tenantWithOwner, type InlineDocument, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
let owner: Tenant;
let first: EndpointSetup;
let second: EndpointSetup;
let harbour: EndpointSetup;


/** Sentences over a small vocabulary, common words in most documents and rare ones in few. */
function documents(count: number, seed: number): InlineDocument[] {
  const words = ['river', 'lock', 'gate', 'boat', 'keeper', 'lamp', 'tide', 'weir', 'sluice', 'paddle', 'chamber', 'barge', 'towpath', 'culvert', 'mooring', 'winch'];
  let state = seed;
  const next = () => (state = (state * 48271) % 2147483647) / 2147483647;
  return Array.from({ length: count }, (_, index) => ({
    title: `Canal note ${index}`,
    text: Array.from({ length: 6 + Math.floor(next() * 40) }, () => words[Math.floor(words.length * next() ** 2.5)]).join(' ') + '.',
  }));
}

/**
 * 60 one-chunk documents: "harbour" in every one, "quay" in 3 and "jetty" in 6 (a tenth), never
 * together, and "buoy" in 9, five times in one of them (so the most it can add to a score is
 * more than "jetty" can, though it is commoner): words rare and common enough for each path of
 * the search to be chosen.
 */
function harbourNotes(): InlineDocument[] {
  return documents(60, 11).map((document, index) => ({
    title: document.title,
    text: `harbour ${index % 20 === 0 ? 'quay ' : ''}${index % 10 === 5 ? 'jetty ' : ''}${index % 7 === 3 ? (index === 3 ? 'buoy '.repeat(5) : 'buoy ') : ''}${document.text}`,
  }));
}

// The last two: eight words (the most the single pass takes as columns) and ten (it sums them over the words, per chunk).
const QUESTIONS = ['river lock', 'winch mooring culvert', 'the lamp of the keeper', 'paddle', 'sluice gate barge towpath', 'weir', 'unknownword', 'lock unknownword', 'river lock gate boat keeper lamp tide weir', 'river lock gate boat keeper lamp tide weir sluice paddle'];

interface Ranked {
  chunk_id: string;
  score: number;
  complete: boolean;
}

/** One search function's top 10 for a plain question over `datasetIds`, with `singlePassLimit`. */
async function search(fn: 'sluice_keyword_search' | 'sluice_bm25_search', datasetIds: string[], question: string, singlePassLimit: number, strict = false, excluded: string | null = null): Promise<Ranked[]> {
  return withClient(server.database.ownerUrl, async (client) => {
    const text = strict ? '$2' : `plain_question_text('english', $2)`;
    const { rows } = await client.query<Ranked>(
      `select chunk_id, score, complete from ${fn}($1::uuid[], 'english', ${text}, $3, 10, 1000000, $4, to_tsquery('english', $5)) order by complete desc, score desc, chunk_id`,
      [`{${datasetIds.join(',')}}`, question, strict, singlePassLimit, excluded],
    );
    return rows;
  });
}

beforeAll(async () => {
  server = await startTestServer();
  owner = await tenantWithOwner(server);
  first = await endpointOver(server, owner.token, documents(40, 7));
  second = await endpointOver(server, owner.token, documents(15, 31));
  harbour = await endpointOver(server, owner.token, harbourNotes());
});
afterAll(async () => {
  await server?.close();
});

describe('keyword search single pass in plain SQL', { timeout: 120_000 }, () => {
  it('ranks exactly as sluice_bm25_search (its single pass and its max-score steps), over one dataset and over two', async () => {
    for (const datasetIds of [[databaseIdOf(first.datasetId)], [databaseIdOf(first.datasetId), databaseIdOf(second.datasetId)]]) {
      for (const question of QUESTIONS) {
        const plain = await search('sluice_keyword_search', datasetIds, question, 1_000_000);
        const procedural = await search('sluice_bm25_search', datasetIds, question, 1_000_000);
        const stepped = await search('sluice_bm25_search', datasetIds, question, 0);
        const label = `${question} over ${datasetIds.length} dataset(s)`;
        // Bit-identical: toEqual on the numbers, not toBeCloseTo.
        expect(plain, label).toEqual(procedural);
        expect(plain, `${label} (max-score steps)`).toEqual(stepped);
        if (!question.startsWith('unknownword')) expect(plain.length, label).toBeGreaterThan(0);
      }
    }
    expect(await search('sluice_keyword_search', [databaseIdOf(first.datasetId)], 'unknownword', 1_000_000)).toEqual([]);
    // A plain question's exclusions (an exclusion of stop words only excludes nothing).
    for (const excluded of ['!lock', '!the']) {
      const plain = await search('sluice_keyword_search', [databaseIdOf(first.datasetId)], 'river gate barge', 1_000_000, false, excluded);
      expect(plain, excluded).toEqual(await search('sluice_bm25_search', [databaseIdOf(first.datasetId)], 'river gate barge', 1_000_000, false, excluded));
      expect(plain, excluded).toEqual(await search('sluice_bm25_search', [databaseIdOf(first.datasetId)], 'river gate barge', 0, false, excluded));
      expect(plain.length, excluded).toBeGreaterThan(0);
    }
    const withoutLock = await search('sluice_keyword_search', [databaseIdOf(first.datasetId)], 'river gate barge', 1_000_000, false, '!lock');
    const holdingLock = await withClient(server.database.ownerUrl, (client) =>
      client.query(`select count(*)::int as n from chunks where id = any($1::uuid[]) and search @@ to_tsquery('english', 'lock')`, [`{${withoutLock.map((row) => row.chunk_id).join(',')}}`]),
    );
    expect(holdingLock.rows[0].n).toBe(0);
  });

  it('answers the endpoint with the same passages, scores in the same order', async () => {
    for (const question of QUESTIONS.slice(0, 5)) {
      const body = await queryEndpoint(server, owner.token, first.reference, question, { topK: 10 }, 'passages { chunkId score }');
      expect(body.errors).toBeUndefined();
      const passages = body.data.queryEndpoint.passages as { chunkId: string; score: number }[];
      const expected = await search('sluice_bm25_search', [databaseIdOf(first.datasetId)], question, 0);
      expect(passages.map((passage) => [passage.chunkId, passage.score]), question).toEqual(expected.map((row) => [row.chunk_id, row.score]));
    }
  });

  it('plans the max-score steps once per connection, not at every search', async () => {
    // A step of a question of up to eight words is a static statement whose plan PL/pgSQL keeps,
    // generic by the function's own setting (migrations/…_keyword_steps_cached_plans.ts); until
    // 2026-12-05 each was a dynamic statement, parsed and planned at every search. A kept plan is
    // a memory context named CachedPlan holding its statement's text.
    const kept = async (client: pg.Client) =>
      (await client.query<{ n: number }>(`select count(*)::int as n from pg_backend_memory_contexts where name = 'CachedPlan' and ident like 'with scored as%'`)).rows[0]!.n;
    const stepped = (client: pg.Client, question: string, budget: number) =>
      client.query(`select * from sluice_bm25_search($1::uuid[], 'english', $2, false, 5, $3, 0)`, [`{${databaseIdOf(harbour.datasetId)}}`, question, budget]);
    await withClient(server.database.ownerUrl, async (client) => {
      expect(await kept(client)).toBe(0);
      // Through the steps (single-pass limit 0): "quay" in 3 chunks, "jetty" in 6.
      const rows = (await stepped(client, 'quay jetty', 1_000_000)).rows;
      expect(rows.length).toBe(5);
      // Complete passages (none) and the words' step, each kept once.
      expect(await kept(client)).toBe(2);
      // Asked again on the same connection: the same plans, none made anew.
      expect((await stepped(client, 'quay jetty', 1_000_000)).rows).toEqual(rows);
      expect(await kept(client)).toBe(2);
      const setting = await client.query<{ config: string[] }>(`select proconfig as config from pg_proc where proname = 'sluice_bm25_search'`);
      expect(setting.rows[0]!.config).toEqual(['plan_cache_mode=force_generic_plan']);
    });
    // A step over more chunks than the search may still score (it stops at the row budget) keeps
    // a plan made for its words: "harbour" is in 60 chunks, over a budget of 10, not of 100.
    await withClient(server.database.ownerUrl, async (client) => {
      expect((await stepped(client, 'harbour', 10)).rows.length).toBe(5);
      expect(await kept(client)).toBe(0);
      expect((await stepped(client, 'harbour', 100)).rows.length).toBe(5);
      expect(await kept(client)).toBe(1);
    });
  });

  it('is inlined, and calls the max-score steps only for questions they may prune or with search syntax', async () => {
    const plan = (limit: number, question = 'river lock', strict = false) =>
      withClient(server.database.ownerUrl, async (client) => {
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(
          `explain (analyze, costs off, timing off, summary off) select * from sluice_keyword_search($1::uuid[], 'english', $2, $3, 5, 5000, $4)`,
          [`{${databaseIdOf(first.datasetId)}}`, question, strict, limit],
        );
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      });
    const small = await plan(1_000_000);
    expect(small).not.toMatch(/Function Scan on sluice_keyword_search/);
    // Its candidates are read as they are scored, not copied into a tuple store first (a
    // materialized CTE did: migrations/…_keyword_single_pass_candidates_unmaterialized.ts). How
    // the chunks are found is the planner's choice (an index or, in a table this small, a scan).
    expect(small).not.toMatch(/CTE Scan on candidates/);
    expect(small).toMatch(/Function Scan on sluice_bm25_search[^\n]*\(never executed\)/);
    // A question of more than eight words too (summed over its words per chunk, still in the one statement).
    expect(await plan(1_000_000, QUESTIONS.at(-1))).toMatch(/Function Scan on sluice_bm25_search[^\n]*\(never executed\)/);
    const large = await plan(0);
    expect(large).toMatch(/Function Scan on sluice_bm25_search s \(actual rows=5(\.00)? /);
    // Over the single-pass limit, but the steps would score every matching chunk anyway (the
    // words but the commonest in fewer chunks than topK), or could skip only a few (the words but
    // the rarest in no more chunks than the limit): the single pass, with the same rows.
    const harbourPlan = (limit: number, question: string) =>
      withClient(server.database.ownerUrl, async (client) => {
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(
          `explain (analyze, costs off, timing off, summary off) select * from sluice_keyword_search($1::uuid[], 'english', $2, false, 5, 5000, $3)`,
          [`{${databaseIdOf(harbour.datasetId)}}`, question, limit],
        );
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      });
    // 63 chunks hold "harbour quay", over a limit of 59; but "quay" is in 3, fewer than topK, so
    // the steps would score all 63: the single pass does.
    expect(await harbourPlan(59, 'harbour quay')).toMatch(/Function Scan on sluice_bm25_search[^\n]*\(never executed\)/);
    // "jetty" is in 6, topK's worth and more: the steps may prune "harbour", in 60 chunks, more
    // than the limit of 59, and run.
    expect(await harbourPlan(59, 'harbour jetty')).toMatch(/Function Scan on sluice_bm25_search s \(actual rows=5(\.00)? /);
    // With a limit of 60 the chunks they could skip (the words but the rarest: 60) are within it:
    // the single pass scores all 66 in one statement.
    expect(await harbourPlan(60, 'harbour jetty')).toMatch(/Function Scan on sluice_bm25_search[^\n]*\(never executed\)/);
    // "jetty buoy": 15 chunks, 9 of them "buoy"'s, over a limit of 8; but the most "buoy" adds to a
    // score is more than "jetty" can, so no threshold from chunks holding "jetty" alone can prune
    // it: the steps would score all 15 in three statements, the single pass does in one.
    const bounds = await withClient(server.database.ownerUrl, async (client) =>
      Object.fromEntries(
        (
          await client.query<{ term: string; chunks: number; frequency: number }>(
            `select term, chunk_count as chunks, max_frequency as frequency from dataset_terms where dataset_id = $1 and term in ('jetti', 'buoy')`,
            [databaseIdOf(harbour.datasetId)],
          )
        ).rows.map((row) => [row.term, row]),
      ),
    );
    expect(bounds).toEqual({ jetti: { term: 'jetti', chunks: 6, frequency: 1 }, buoy: { term: 'buoy', chunks: 9, frequency: 5 } });
    expect(await harbourPlan(8, 'jetty buoy')).toMatch(/Function Scan on sluice_bm25_search[^\n]*\(never executed\)/);
    // "harbour jetty" at the same limit: "harbour", in every document, adds almost nothing; the steps run.
    expect(await harbourPlan(8, 'harbour jetty')).toMatch(/Function Scan on sluice_bm25_search s \(actual rows=5(\.00)? /);
    expect(await search('sluice_keyword_search', [databaseIdOf(harbour.datasetId)], 'jetty buoy', 8)).toEqual(
      await search('sluice_bm25_search', [databaseIdOf(harbour.datasetId)], 'jetty buoy', 0),
    );
    for (const limit of [59, 60]) {
      for (const question of ['harbour quay', 'harbour jetty', 'harbour quay jetty']) {
        expect(await search('sluice_keyword_search', [databaseIdOf(harbour.datasetId)], question, limit), `${question} (limit ${limit})`).toEqual(
          await search('sluice_bm25_search', [databaseIdOf(harbour.datasetId)], question, 0),
        );
      }
    }
    const syntax = await plan(1_000_000, '"river lock"', true);
    expect(syntax).toMatch(/Function Scan on sluice_bm25_search s \(actual rows=[1-5](\.00)? /);
    // Search syntax keeps its meaning: both functions return the same.
    expect(await search('sluice_keyword_search', [databaseIdOf(first.datasetId)], 'river -lock', 1_000_000, true)).toEqual(
      await search('sluice_bm25_search', [databaseIdOf(first.datasetId)], 'river -lock', 1_000_000, true),
    );
  });
});
