/**
 * Keyword search ranks with BM25 over each dataset's own statistics: the statistics stay exact
 * as documents are added, replaced and deleted (checked against a recount from the chunks
 * themselves), the max-score pruning returns exactly what scoring every matching chunk would
 * (checked against BM25 computed here from the stored lexemes), rare words outweigh common
 * ones, shorter passages win ties of frequency, and one tenant's documents never move another
 * tenant's scores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { endpointOver, must, queryEndpoint, type EndpointSetup } from '../support/endpoints.js';
import { ingestInline, settled, tenantWithOwner, type InlineDocument, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: Tenant;
let other: Tenant;
beforeAll(async () => {
  server = await startTestServer();
  [owner, other] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
});
afterAll(async () => {
  await server?.close();
});

/** A node's database id: global ids are base64 of "Type:uuid". */
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

const K1 = 1.2;
const B = 0.75;

/** Stored statistics that differ from a recount over the chunks (owner connection, all tenants). */
async function statisticsDrift(): Promise<unknown[]> {
  return withClient(server.database.ownerUrl, async (client) => {
    const terms = await client.query(`
      with recount as (
        select c.tenant_id, c.dataset_id, t.term, count(*)::int as chunk_count
          from chunks c cross join lateral unnest(tsvector_to_array(c.search)) as t(term) group by 1, 2, 3)
      select coalesce(r.dataset_id, s.dataset_id) as dataset_id, coalesce(r.term, s.term) as term, r.chunk_count as recounted, s.chunk_count as stored
        from recount r full join dataset_terms s on s.tenant_id = r.tenant_id and s.dataset_id = r.dataset_id and s.term = r.term
       where r.chunk_count is distinct from s.chunk_count`);
    const totals = await client.query(`
      select d.id, d.search_chunk_count, d.search_lexeme_count, count(c.id) as chunks, coalesce(sum(length(c.search)), 0) as lexemes
        from datasets d left join chunks c on c.dataset_id = d.id
       group by d.id
      having d.search_chunk_count <> count(c.id) or d.search_lexeme_count <> coalesce(sum(length(c.search)), 0)`);
    return [...terms.rows, ...totals.rows];
  });
}

async function ingest(tenant: Tenant, datasetId: string, documents: InlineDocument[]) {
  const { body } = await ingestInline(server, tenant.token, datasetId, documents);
  expect(body.errors).toBeUndefined();
  const job = await settled(server, tenant.token, body.data.ingestDocuments.id);
  expect(job.stage).toBe('COMPLETED');
}

async function ranked(tenant: Tenant, setup: EndpointSetup, query: string, topK = 10) {
  const body = await queryEndpoint(server, tenant.token, setup.reference, query, { topK }, 'passages { chunkId documentTitle score }');
  expect(body.errors).toBeUndefined();
  return body.data.queryEndpoint.passages as { chunkId: string; documentTitle: string; score: number }[];
}

/** Documents of words drawn with a skew from a small vocabulary: common words everywhere, rare ones in few. */
function generatedCorpus(count: number, seed: number): InlineDocument[] {
  const vocabulary = Array.from({ length: 60 }, (_, index) => `w${String.fromCharCode(97 + (index % 26))}${String.fromCharCode(97 + Math.floor(index / 26))}q`);
  let state = seed;
  const next = () => (state = (state * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: count }, (_, index) => ({
    title: `Generated ${index}`,
    text: Array.from({ length: 8 + Math.floor(next() * 30) }, () => vocabulary[Math.floor(vocabulary.length * next() ** 2)]).join(' ') + '.',
  }));
}

/** BM25 of every chunk of a dataset, from the lexemes PostgreSQL stored, complete matches first. */
async function bruteForce(datasetId: string, query: string, topK: number): Promise<{ chunkId: string; score: number }[]> {
  return withClient(server.database.ownerUrl, async (client) => {
    const { rows: terms } = await client.query<{ term: string }>(`select distinct unnest(tsvector_to_array(to_tsvector('english', plain_question_text('english', $1)))) as term`, [query]);
    const { rows } = await client.query<{ id: string; lexeme: string; tf: number; length: number }>(
      `select c.id, u.lexeme, array_length(u.positions, 1) as tf, length(c.search) as length
         from chunks c cross join lateral unnest(c.search) u where c.dataset_id = $1`,
      [datasetId],
    );
    const chunks = new Map<string, { length: number; tf: Map<string, number> }>();
    for (const row of rows) {
      const chunk = chunks.get(row.id) ?? { length: row.length, tf: new Map() };
      chunk.tf.set(row.lexeme, row.tf);
      chunks.set(row.id, chunk);
    }
    const average = [...chunks.values()].reduce((sum, chunk) => sum + chunk.length, 0) / chunks.size;
    const wanted = terms.map((row) => row.term).filter((term) => [...chunks.values()].some((chunk) => chunk.tf.has(term)));
    const idf = new Map(wanted.map((term) => {
      const df = [...chunks.values()].filter((chunk) => chunk.tf.has(term)).length;
      return [term, Math.log(1 + (chunks.size - df + 0.5) / (df + 0.5))];
    }));
    return [...chunks]
      .map(([chunkId, chunk]) => ({
        chunkId,
        complete: wanted.every((term) => chunk.tf.has(term)),
        matches: wanted.some((term) => chunk.tf.has(term)),
        score: wanted.reduce((sum, term) => {
          const tf = chunk.tf.get(term) ?? 0;
          return sum + (idf.get(term)! * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * chunk.length) / average));
        }, 0),
      }))
      .filter((chunk) => chunk.matches)
      .sort((a, b) => Number(b.complete) - Number(a.complete) || b.score - a.score || (a.chunkId < b.chunkId ? -1 : 1))
      .slice(0, topK)
      .map(({ chunkId, score }) => ({ chunkId, score }));
  });
}

// Each test ingests a few jobs: generous on a busy machine; nothing here measures time.
describe('BM25 keyword search', { timeout: 120_000 }, () => {
  it('keeps each dataset’s statistics exact as documents are added, replaced and deleted', async () => {
    const first = await endpointOver(server, owner.token, generatedCorpus(30, 11));
    const second = await endpointOver(server, other.token, generatedCorpus(20, 13));
    expect(await statisticsDrift()).toEqual([]);

    // Replaced: the same titles with new texts; added: new documents in a second job.
    await ingest(owner, first.datasetId, generatedCorpus(10, 17));
    await ingest(owner, first.datasetId, generatedCorpus(40, 19).slice(30));
    expect(await statisticsDrift()).toEqual([]);

    const { rows } = await withClient(server.database.ownerUrl, (client) =>
      client.query('select count(*)::int as terms from dataset_terms where dataset_id = $1', [uuidOf(second.datasetId)]),
    );
    expect(rows[0].terms).toBeGreaterThan(10);
    await must(server, other.token, 'mutation($id: ID!) { deleteDataset(id: $id) { id } }', { id: second.datasetId });
    const after = await withClient(server.database.ownerUrl, (client) =>
      client.query('select count(*)::int as terms from dataset_terms where dataset_id = $1', [uuidOf(second.datasetId)]),
    );
    expect(after.rows[0].terms).toBe(0);
    expect(await statisticsDrift()).toEqual([]);
  });

  it('returns exactly what scoring every matching chunk returns (max-score pruning loses nothing)', async () => {
    const setup = await endpointOver(server, owner.token, generatedCorpus(50, 23));
    const questions = ['wabq wacq', 'wbaq wzaq wcbq', 'waaq wbaq', 'wdbq whbq wgbq wfbq', 'wzaq', 'waaq'];
    for (const question of questions) {
      const expected = await bruteForce(uuidOf(setup.datasetId), question, 10);
      // Through the endpoint (few matching chunks: the single pass) and through the max-score
      // steps (the function called with a single-pass limit of 0), both against brute force.
      const passages = await ranked(owner, setup, question, 10);
      expect(passages.map((passage) => passage.chunkId), question).toEqual(expected.map((chunk) => chunk.chunkId));
      passages.forEach((passage, index) => expect(passage.score).toBeCloseTo(expected[index]!.score, 9));
      const stepped = await withClient(server.database.ownerUrl, (client) =>
        client.query<{ chunk_id: string; score: number }>(
          `select chunk_id, score from sluice_bm25_search($1::uuid[], 'english', plain_question_text('english', $2), false, 10, 1000000, 0)`,
          [`{${uuidOf(setup.datasetId)}}`, question],
        ),
      );
      expect(stepped.rows.map((row) => row.chunk_id), `${question} (max-score steps)`).toEqual(expected.map((chunk) => chunk.chunkId));
      stepped.rows.forEach((row, index) => expect(row.score).toBeCloseTo(expected[index]!.score, 9));
    }
  });

  it('reads every term frequency a tsvector can hold exactly (lexeme_frequency, 0 to 255)', async () => {
    const { rows } = await withClient(server.database.ownerUrl, (client) =>
      client.query<{ n: number; stored: number; read: number }>(`
        select n, coalesce((select array_length(positions, 1) from unnest(v) where lexeme = 'x'), 0) as stored,
               lexeme_frequency(v, lexeme_query('x')) as read
          from generate_series(0, 300) as n
          cross join lateral (select to_tsvector('simple', repeat('x ', n) || 'y') as v) t`),
    );
    expect(rows).toHaveLength(301);
    for (const row of rows) expect(row.read, `${row.n} occurrences`).toBe(row.stored);
    // A tsvector keeps 255 positions of a lexeme at most; frequencies up to there are exact.
    expect(rows.find((row) => row.n === 300)!.stored).toBe(255);
  });

  it('weighs rare words above common ones, prefers shorter passages, and puts complete matches first', async () => {
    const common = Array.from({ length: 12 }, (_, index) => ({ title: `Water ${index}`, text: `The water level rose ${index} times by the weir.` }));
    const setup = await endpointOver(server, owner.token, [
      ...common,
      { title: 'Sextant short', text: 'A sextant measures angles.' },
      { title: 'Sextant long', text: 'A sextant measures the angle between a star and the horizon, read off a scale by a navigator at dusk on deck.' },
      { title: 'Both', text: 'The water was calm enough to take a sextant sight.' },
    ]);
    const titles = (await ranked(owner, setup, 'water sextant', 5)).map((passage) => passage.documentTitle);
    // All the words first; then the rare word (in a short passage before a long one) above the common one.
    expect(titles.slice(0, 3)).toEqual(['Both', 'Sextant short', 'Sextant long']);
    expect(titles[3]).toMatch(/^Water /);
  });

  it('reads a plain question as its words: a hyphenated compound as its parts, a /path/-like token as its words too', async () => {
    const drag = Array.from({ length: 6 }, (_, index) => ({ title: `Drag ${index}`, text: `Drag rises with speed ${index}.` }));
    const setup = await endpointOver(server, owner.token, [
      ...drag,
      { title: 'Spaced', text: 'The boundary layer thickens.' },
      { title: 'Hyphenated', text: 'The boundary-layer thickens.' },
      { title: 'Boat tail', text: 'A boat tail lowers base drag.' },
    ]);
    // PostgreSQL indexes "boundary-layer" as the compound and its parts: as three question
    // terms the compound alone made 'Hyphenated' the only complete passage. As its parts, both
    // passages hold every word and the shorter ranks first, exactly as the spaced question.
    const hyphenated = await ranked(owner, setup, 'boundary-layer', 5);
    expect(hyphenated.map((passage) => passage.documentTitle)).toEqual(['Spaced', 'Hyphenated']);
    expect(hyphenated).toEqual(await ranked(owner, setup, 'boundary layer', 5));

    // The parser reads "/boat-tail/" as a file path, one lexeme no passage holds: the question
    // was "drag" alone and the short drag passages outranked the one about boat tails.
    const body = await queryEndpoint(server, owner.token, setup.reference, '/boat-tail/ drag', { topK: 3 }, 'passages { documentTitle score highlight }');
    expect(body.errors).toBeUndefined();
    const [first] = body.data.queryEndpoint.passages as { documentTitle: string; score: number; highlight: string }[];
    expect(first!.documentTitle).toBe('Boat tail');
    expect(first!.highlight).toBe('**boat** **tail** lowers base **drag**');
    expect(first!.score).toBeCloseTo((await ranked(owner, setup, 'boat tail drag', 1))[0]!.score, 9);
  });

  it('reads every kind of token of a plain question (plain_question_text)', async () => {
    const lexemes = (question: string) =>
      withClient(server.database.ownerUrl, async (client) => {
        const { rows } = await client.query<{ lexemes: string[] }>(
          `select array(select unnest(tsvector_to_array(to_tsvector('english', plain_question_text('english', $1)))) order by 1) as lexemes`,
          [question],
        );
        return rows[0]!.lexemes;
      });
    // Compounds as their parts only; paths, hosts and abbreviations as themselves and their words.
    expect(await lexemes('The x-ray of a /boat-tail/ at www.nasa.gov, i.e. lift/drag')).toEqual(
      ['/boat-tail', 'boat', 'drag', 'e', 'gov', 'i.e', 'lift', 'lift/drag', 'nasa', 'ray', 'tail', 'www', 'www.nasa.gov', 'x'].sort(),
    );
    // Stop words and punctuation leave nothing; numbers and apostrophes as the index reads them.
    expect(await lexemes('what is, and how?')).toEqual([]);
    expect(await lexemes('')).toEqual([]);
    expect(await lexemes("the body's 1.5 m")).toEqual(['1.5', 'bodi', 'm']);
  });

  it('scores with the dataset’s own statistics: another tenant’s documents move nothing', async () => {
    const setup = await endpointOver(server, owner.token, generatedCorpus(25, 29));
    const before = await ranked(owner, setup, 'wabq wbaq', 10);
    expect(before.length).toBeGreaterThan(0);
    await endpointOver(server, other.token, generatedCorpus(40, 31));
    expect(await ranked(owner, setup, 'wabq wbaq', 10)).toEqual(before);
  });
});
