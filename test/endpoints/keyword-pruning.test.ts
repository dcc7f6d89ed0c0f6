/**
 * Keyword search's max-score steps score only chunks that can still enter the top list
 * (migrations/…_keyword_search_pruning.ts): `sluice_bm25_sufficient` builds the tsquery a step
 * adds to its word, matched by exactly the chunks whose words' bounds reach what the list
 * needs. Checked here over every set of words against the sums themselves; that the search
 * stays exact is checked against brute force in bm25.test.ts. The first threshold's pairs
 * (`sluice_bm25_pairs`, migrations/…_keyword_pairs_without_common_words.ts) leave out the words
 * held by more than a tenth of the chunks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];

describe('keyword search pruning', () => {
  it('asks a step for exactly the chunks whose words can reach the score the top list needs', async () => {
    const bounds = [0.7, 2.5, 1.25, 3.1, 0.4, 1.9];
    await withClient(server.database.ownerUrl, async (client) => {
      for (const first of [1, 2, 4]) {
        for (const need of [-1, 0.3, 1.3, 2.6, 4.05, 6.2, 9.9, 50]) {
          const { rows } = await client.query<{ query: string | null; everything: boolean | null }>(
            `select q::text as query, numnode(q) = 0 as everything
               from sluice_bm25_sufficient((select array_agg(w::tsquery order by o) from unnest($1::text[]) with ordinality as u(w, o)), $2::float8[], $3, $4) as q`,
            [WORDS, bounds, first, need],
          );
          const { query, everything } = rows[0]!;
          // Every set of the words from `first` on: a chunk holding just those.
          for (let set = 0; set < 1 << (WORDS.length - first + 1); set += 1) {
            const held = WORDS.slice(first - 1).filter((_, index) => set & (1 << index));
            const reaches = held.reduce((sum, word) => sum + bounds[WORDS.indexOf(word)]!, 0) >= need;
            const label = `first ${first}, need ${need}, holding ${held.join(' ') || 'none'}`;
            if (query === null) {
              expect(reaches, `${label}: no chunk can reach it`).toBe(false);
              continue;
            }
            if (everything) {
              expect(reaches, `${label}: every chunk reaches it`).toBe(true);
              continue;
            }
            const matched = await client.query<{ matched: boolean }>(`select to_tsvector('simple', $1) @@ $2::tsquery as matched`, [`${held.join(' ')} zulu`, query]);
            expect(matched.rows[0]!.matched, label).toBe(reaches);
          }
        }
      }
    });
  });

  it('pairs for the first threshold only the words held by at most a tenth of the chunks', async () => {
    const pairs = (words: string[], chunks: number[], datasetChunks: number) =>
      withClient(server.database.ownerUrl, async (client) => {
        const { rows } = await client.query<{ pairs: string | null }>(
          `select sluice_bm25_pairs((select array_agg(w::tsquery order by o) from unnest($1::text[]) with ordinality as u(w, o)), $2::bigint[], $3)::text as pairs`,
          [words, chunks, datasetChunks],
        );
        return rows[0]!.pairs;
      });
    // 100 of 1 000 is a tenth: kept; 101 is not.
    expect(await pairs(['alpha', 'bravo', 'charlie', 'delta'], [5, 40, 100, 900], 1000)).toBe("'alpha' & 'bravo' | 'alpha' & 'charlie' | 'bravo' & 'charlie'");
    expect(await pairs(['alpha', 'bravo', 'charlie'], [5, 40, 101], 1000)).toBe("'alpha' & 'bravo'");
    // Fewer than two such words: no pairs, so no first threshold.
    expect(await pairs(['alpha', 'bravo', 'charlie'], [5, 700, 950], 1000)).toBeNull();
  });
});
