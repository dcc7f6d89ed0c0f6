/**
 * Retrieval quality and the extractive model on a small corpus the test builds: the expected
 * document ranks first, phrases and negation behave, highlights mark the matches, topK and
 * minScore hold, and the answer cites exactly the chunks it used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointOver, queryEndpoint, type EndpointSetup } from '../support/endpoints.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CORPUS = [
  {
    title: 'Canal locks',
    text: 'A canal lock raises and lowers boats between stretches of water. The lock keeper opens the sluice gates to fill the chamber. Narrowboats wait in the basin while the chamber fills.',
  },
  {
    title: 'Sourdough baking',
    text: 'A sourdough starter is flour and water fermented by wild yeast. Feed the starter every day. Bake the loaf in a hot oven with steam for a crisp crust.',
  },
  {
    title: 'PostgreSQL text search',
    text: 'PostgreSQL stores documents as tsvector values. A GIN index makes full text search fast. The ranking function ts_rank_cd rewards matches that appear close together.',
  },
  {
    title: 'Mountain rivers',
    text: 'Mountain rivers carve deep valleys. Their water is cold and fast. Canal builders avoided steep rivers and followed the contour lines instead.',
  },
  {
    title: 'Harbour history',
    text: 'The old harbour handled salt and timber. A keeper recorded every ship in a ledger. Boats without a pilot waited outside the harbour wall.',
  },
];

let server: TestServer;
let owner: Tenant;
let setup: EndpointSetup;
beforeAll(async () => {
  server = await startTestServer();
  owner = await tenantWithOwner(server);
  setup = await endpointOver(server, owner.token, CORPUS, { retrieval: { topK: 5 } });
});
afterAll(async () => {
  await server?.close();
});

async function titlesFor(query: string, options?: Record<string, unknown>): Promise<string[]> {
  const body = await queryEndpoint(server, owner.token, setup.reference, query, options, 'passages { documentTitle score }');
  expect(body.errors).toBeUndefined();
  return body.data.queryEndpoint.passages.map((passage: { documentTitle: string }) => passage.documentTitle);
}

describe('full-text retrieval', () => {
  it.each([
    ['sourdough starter yeast', 'Sourdough baking'],
    ['GIN index for full text search', 'PostgreSQL text search'],
    ['lock keeper sluice gates', 'Canal locks'],
    ['cold mountain valleys', 'Mountain rivers'],
    ['ships recorded in the harbour ledger', 'Harbour history'],
  ])('ranks the expected document first for %j', async (query, expected) => {
    const titles = await titlesFor(query);
    expect(titles[0]).toBe(expected);
  });

  it('matches a quoted phrase only where the words stand together', async () => {
    // "keeper" alone is in two documents; the phrase "lock keeper" in one.
    expect((await titlesFor('keeper')).sort()).toEqual(['Canal locks', 'Harbour history']);
    expect(await titlesFor('"lock keeper"')).toEqual(['Canal locks']);
  });

  it('excludes documents with a -negated word', async () => {
    expect((await titlesFor('canal')).sort()).toEqual(['Canal locks', 'Mountain rivers']);
    expect(await titlesFor('canal -lock')).toEqual(['Mountain rivers']);
  });

  it('returns nothing for words no document has, and stems (boats ~ boat)', async () => {
    expect(await titlesFor('zeppelin')).toEqual([]);
    expect((await titlesFor('boat')).sort()).toEqual(['Canal locks', 'Harbour history']);
  });

  it('orders by score, marks matches in highlights, and honours topK and minScore', async () => {
    const body = await queryEndpoint(server, owner.token, setup.reference, 'water', undefined, 'passages { rank documentTitle score highlight text }');
    const passages = body.data.queryEndpoint.passages;
    expect(passages.length).toBe(3);
    expect(passages.map((passage: { rank: number }) => passage.rank)).toEqual([1, 2, 3]);
    const scores = passages.map((passage: { score: number }) => passage.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    for (const passage of passages) expect(passage.highlight).toMatch(/\*\*water\*\*/i);

    expect(await titlesFor('water', { topK: 1 })).toHaveLength(1);
    const best = scores[0];
    const aboveAll = await titlesFor('water', { minScore: best + 1 });
    expect(aboveAll).toEqual([]);
  });

  it('refuses a topK outside 1–50 and an empty query with BAD_USER_INPUT', async () => {
    for (const [query, options] of [
      ['water', { topK: 0 }],
      ['water', { topK: 51 }],
      ['   ', undefined],
    ] as const) {
      const body = await queryEndpoint(server, owner.token, setup.reference, query, options, 'latencyMs');
      expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('counts a question’s 8192 characters as code points: an emoji is one', async () => {
    // 8192 emoji are 16 384 UTF-16 units: within the bound; one more character is over it.
    const within = await queryEndpoint(server, owner.token, setup.reference, `water ${'🌊'.repeat(8186)}`, undefined, 'passages { documentTitle }');
    expect(within.errors).toBeUndefined();
    expect(within.data.queryEndpoint.passages.length).toBeGreaterThan(0);
    const over = await queryEndpoint(server, owner.token, setup.reference, `water ${'🌊'.repeat(8187)}`, undefined, 'passages { documentTitle }');
    expect(over.errors[0]).toMatchObject({ message: 'query must be 1 to 8192 characters', extensions: { code: 'BAD_USER_INPUT', field: 'query' } });
  });
});

describe('the extractive model', () => {
  it('answers from the passages and cites exactly the chunks it used', async () => {
    const body = await queryEndpoint(server, owner.token, setup.reference, 'How does a lock keeper fill the chamber?');
    expect(body.errors).toBeUndefined();
    const result = body.data.queryEndpoint;
    expect(result.passages[0].documentTitle).toBe('Canal locks');
    expect(result.answer).toContain('The lock keeper opens the sluice gates to fill the chamber.');
    // Every [n] in the answer is a citation, and every citation is a marker of the answer.
    const markers = [...result.answer.matchAll(/\[(\d+)\]/g)].map((match) => Number(match[1]));
    expect(new Set(markers)).toEqual(new Set(result.citations.map((citation: { marker: number }) => citation.marker)));
    for (const citation of result.citations) {
      expect(citation.chunkId).toBe(result.passages[citation.marker - 1].chunkId);
    }
    expect(result.citations[0]).toMatchObject({ marker: 1, documentTitle: 'Canal locks' });
    expect(result.usage.totalTokens).toBe(result.usage.promptTokens + result.usage.completionTokens);
    expect(result.usage.promptTokens).toBeGreaterThan(0);
    expect(result.usage.costMicros).toBe(0);
  });

  it('says so when no passage matches, citing nothing', async () => {
    const body = await queryEndpoint(server, owner.token, setup.reference, 'zeppelin airships');
    expect(body.data.queryEndpoint).toMatchObject({ passages: [], citations: [], answer: 'None of the passages answers this question.' });
  });
});
