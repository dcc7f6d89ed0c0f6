/**
 * Keyword search ranks with BM25 over its datasets' statistics, as one collection when an
 * endpoint has several (a word's rarity among all their documents): the statistics stay exact
 * (and the per-term score bounds valid) as documents are added, replaced and deleted, and as
 * chunks of one document come and go in several statements (checked against a recount from the
 * chunks themselves; a word's rarity counts documents, not chunks), the max-score pruning returns exactly what scoring every matching chunk would
 * (checked against BM25 computed here from the stored lexemes), rare words outweigh common
 * ones, shorter passages win ties of frequency, and one tenant's documents never move another
 * tenant's scores. A plain question with `-word` matches any of its other words, minus the
 * passages holding the excluded one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { readsAsTokens } from '../../src/domains/endpoints/retriever.js';
import { endpointOver, must, queryEndpoint, type EndpointSetup } from '../support/endpoints.js';
import { ingestInline, settled, tenantWithOwner, type InlineDocument, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

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


const K1 = 1.2;
const B = 0.75;

/**
 * Stored statistics that differ from a recount over the chunks (owner connection, all tenants).
 * A term's highest frequency and shortest chunk are bounds: never under (over) the recount, and
 * equal to it while chunks were only added (`boundsExact`).
 */
async function statisticsDrift(boundsExact = false): Promise<unknown[]> {
  return withClient(server.database.ownerUrl, async (client) => {
    const terms = await client.query(`
      with recount as (
        select c.tenant_id, c.dataset_id, t.lexeme as term, count(*)::int as chunk_count, count(distinct c.document_id)::int as document_count,
               max(greatest(coalesce(array_length(t.positions, 1), 0), 1)) as max_frequency, min(length(c.search)) as min_length
          from chunks c cross join lateral unnest(c.search) as t group by 1, 2, 3)
      select coalesce(r.dataset_id, s.dataset_id) as dataset_id, coalesce(r.term, s.term) as term, r.chunk_count as recounted, s.chunk_count as stored,
             r.document_count as recounted_documents, s.document_count as stored_documents,
             r.max_frequency as recounted_max_frequency, s.max_frequency as stored_max_frequency, r.min_length as recounted_min_length, s.min_length as stored_min_length
        from recount r full join dataset_terms s on s.tenant_id = r.tenant_id and s.dataset_id = r.dataset_id and s.term = r.term
       where r.chunk_count is distinct from s.chunk_count or r.document_count is distinct from s.document_count
          or s.max_frequency < r.max_frequency or s.min_length > r.min_length
          or ($1 and (s.max_frequency <> r.max_frequency or s.min_length <> r.min_length))`, [boundsExact]);
    const totals = await client.query(`
      select d.id, d.search_chunk_count, d.search_lexeme_count, d.search_document_count,
             count(c.id) as chunks, coalesce(sum(length(c.search)), 0) as lexemes, count(distinct c.document_id) as documents
        from datasets d left join chunks c on c.dataset_id = d.id
       group by d.id
      having d.search_chunk_count <> count(c.id) or d.search_lexeme_count <> coalesce(sum(length(c.search)), 0)
          or d.search_document_count <> count(distinct c.document_id)`);
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

/**
 * Documents of words drawn with a skew from a small vocabulary: common words everywhere, rare
 * ones in few. `extra` more words make documents that a small chunk size splits.
 */
function generatedCorpus(count: number, seed: number, extra = 0): InlineDocument[] {
  const vocabulary = Array.from({ length: 60 }, (_, index) => `w${String.fromCharCode(97 + (index % 26))}${String.fromCharCode(97 + Math.floor(index / 26))}q`);
  let state = seed;
  const next = () => (state = (state * 16807) % 2147483647) / 2147483647;
  return Array.from({ length: count }, (_, index) => ({
    title: `Generated ${index}`,
    text: Array.from({ length: 8 + extra + Math.floor(next() * 30) }, () => vocabulary[Math.floor(vocabulary.length * next() ** 2)]).join(' ') + '.',
  }));
}

/**
 * BM25 of every chunk of the datasets as one collection, from the lexemes PostgreSQL stored,
 * complete matches first; a word's idf from the documents holding it among all their documents.
 */
async function bruteForce(datasetIds: string | string[], query: string, topK: number): Promise<{ chunkId: string; score: number; datasetId: string }[]> {
  return withClient(server.database.ownerUrl, async (client) => {
    const { rows: terms } = await client.query<{ term: string }>(`select distinct unnest(tsvector_to_array(to_tsvector('english', plain_question_text('english', $1)))) as term`, [query]);
    const { rows } = await client.query<{ id: string; document_id: string; dataset_id: string; lexeme: string; tf: number; length: number }>(
      `select c.id, c.document_id, c.dataset_id, u.lexeme, array_length(u.positions, 1) as tf, length(c.search) as length
         from chunks c cross join lateral unnest(c.search) u where c.dataset_id = any($1::uuid[])`,
      [[datasetIds].flat()],
    );
    const chunks = new Map<string, { documentId: string; datasetId: string; length: number; tf: Map<string, number> }>();
    for (const row of rows) {
      const chunk = chunks.get(row.id) ?? { documentId: row.document_id, datasetId: row.dataset_id, length: row.length, tf: new Map() };
      chunk.tf.set(row.lexeme, row.tf);
      chunks.set(row.id, chunk);
    }
    const average = [...chunks.values()].reduce((sum, chunk) => sum + chunk.length, 0) / chunks.size;
    const wanted = terms.map((row) => row.term).filter((term) => [...chunks.values()].some((chunk) => chunk.tf.has(term)));
    const documents = new Set([...chunks.values()].map((chunk) => chunk.documentId)).size;
    const idf = new Map(wanted.map((term) => {
      const df = new Set([...chunks.values()].filter((chunk) => chunk.tf.has(term)).map((chunk) => chunk.documentId)).size;
      return [term, Math.log(1 + (documents - df + 0.5) / (df + 0.5))];
    }));
    return [...chunks]
      .map(([chunkId, chunk]) => ({
        chunkId,
        datasetId: chunk.datasetId,
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
      .map(({ chunkId, score, datasetId }) => ({ chunkId, score, datasetId }));
  });
}

/** The max-score steps alone: `sluice_bm25_search` called with a single-pass limit of 0. */
function steppedSearch(datasetIds: string[], question: string, topK: number) {
  return withClient(server.database.ownerUrl, (client) =>
    client.query<{ chunk_id: string; score: number }>(
      `select chunk_id, score from sluice_bm25_search($1::uuid[], 'english', plain_question_text('english', $2), false, $3, 1000000, 0)`,
      [datasetIds, question, topK],
    ),
  );
}

// Each test ingests a few jobs: generous on a busy machine; nothing here measures time.
describe('BM25 keyword search', { timeout: 120_000 }, () => {
  it('keeps each dataset’s statistics exact as documents are added, replaced and deleted', async () => {
    const first = await endpointOver(server, owner.token, generatedCorpus(30, 11));
    const second = await endpointOver(server, other.token, generatedCorpus(20, 13));
    expect(await statisticsDrift(true)).toEqual([]);

    // Replaced: the same titles with new texts; added: new documents in a second job.
    await ingest(owner, first.datasetId, generatedCorpus(10, 17));
    await ingest(owner, first.datasetId, generatedCorpus(40, 19).slice(30));
    expect(await statisticsDrift()).toEqual([]);

    const { rows } = await withClient(server.database.ownerUrl, (client) =>
      client.query('select count(*)::int as terms from dataset_terms where dataset_id = $1', [databaseIdOf(second.datasetId)]),
    );
    expect(rows[0].terms).toBeGreaterThan(10);
    await must(server, other.token, 'mutation($id: ID!) { deleteDataset(id: $id) { id } }', { id: second.datasetId });
    const after = await withClient(server.database.ownerUrl, (client) =>
      client.query('select count(*)::int as terms from dataset_terms where dataset_id = $1', [databaseIdOf(second.datasetId)]),
    );
    expect(after.rows[0].terms).toBe(0);
    expect(await statisticsDrift()).toEqual([]);
  });

  it('returns exactly what scoring every matching chunk returns (max-score pruning loses nothing)', async () => {
    // One chunk per document, and documents split into several chunks (where a word's rarity
    // over documents and over chunks differ, in the scores and in the pruning bounds).
    const whole = await endpointOver(server, owner.token, generatedCorpus(50, 23));
    const split = await endpointOver(server, owner.token, generatedCorpus(25, 37, 60), { ingestion: { chunkSize: 100, chunkOverlap: 0 } });
    const { rows: shape } = await withClient(server.database.ownerUrl, (client) =>
      client.query<{ chunks: number; documents: number }>('select count(*)::int as chunks, count(distinct document_id)::int as documents from chunks where dataset_id = $1', [databaseIdOf(split.datasetId)]),
    );
    expect(shape[0]!.chunks).toBeGreaterThan(3 * shape[0]!.documents);
    // Questions of 3 to 5 words take the first threshold and the steps' narrowed candidates
    // (migrations/…_keyword_search_pruning.ts).
    const questions = ['wabq wacq', 'wbaq wzaq wcbq', 'waaq wbaq', 'wdbq whbq wgbq wfbq', 'wzaq', 'waaq', 'wcaq wdaq wvaq', 'waaq wzaq wcbq whbq', 'wfaq wgaq whaq wiaq wjaq', 'wzaq wabq wbbq'];
    for (const [setup, question] of [whole, split].flatMap((setup) => questions.map((question) => [setup, question] as const))) {
      const expected = await bruteForce(databaseIdOf(setup.datasetId), question, 10);
      // Through the endpoint (few matching chunks: the single pass) and through the max-score
      // steps (the function called with a single-pass limit of 0), both against brute force.
      const passages = await ranked(owner, setup, question, 10);
      expect(passages.map((passage) => passage.chunkId), question).toEqual(expected.map((chunk) => chunk.chunkId));
      passages.forEach((passage, index) => expect(passage.score).toBeCloseTo(expected[index]!.score, 9));
      const stepped = await steppedSearch([databaseIdOf(setup.datasetId)], question, 10);
      expect(stepped.rows.map((row) => row.chunk_id), `${question} (max-score steps)`).toEqual(expected.map((chunk) => chunk.chunkId));
      stepped.rows.forEach((row, index) => expect(row.score).toBeCloseTo(expected[index]!.score, 9));
      // A shorter list needs a higher score: more is pruned.
      const five = await steppedSearch([databaseIdOf(setup.datasetId)], question, 5);
      expect(five.rows.map((row) => row.chunk_id), `${question} (max-score steps, top 5)`).toEqual(expected.slice(0, 5).map((chunk) => chunk.chunkId));
    }
  });

  it('scores an endpoint over several datasets as one collection, through the single pass and the steps', async () => {
    // A large dataset and a small one where the same words are common: scored each by its own
    // statistics, a word was rare in one and common in the other, and the same passage scored
    // 10.8 or 1.5 by which dataset held it (user review stop45, F8).
    const large = await endpointOver(server, owner.token, generatedCorpus(60, 43));
    const small = await endpointOver(server, owner.token, generatedCorpus(5, 47, 20));
    await must(server, owner.token, 'mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { id } }', {
      id: large.endpointId,
      input: { datasetIds: [large.datasetId, small.datasetId] },
    });
    const ids = [databaseIdOf(large.datasetId), databaseIdOf(small.datasetId)];
    const fromSmall = new Set<string>();
    for (const question of ['wabq wacq', 'wbaq wzaq wcbq', 'waaq wbaq', 'wzaq', 'waaq wzaq wcbq whbq', 'wfaq wgaq whaq wiaq wjaq']) {
      const expected = await bruteForce(ids, question, 10);
      expected.filter((chunk) => chunk.datasetId === ids[1]).forEach((chunk) => fromSmall.add(chunk.chunkId));
      const passages = await ranked(owner, large, question, 10);
      expect(passages.map((passage) => passage.chunkId), question).toEqual(expected.map((chunk) => chunk.chunkId));
      passages.forEach((passage, index) => expect(passage.score).toBeCloseTo(expected[index]!.score, 9));
      const stepped = await steppedSearch(ids, question, 10);
      expect(stepped.rows.map((row) => row.chunk_id), `${question} (max-score steps)`).toEqual(expected.map((chunk) => chunk.chunkId));
      stepped.rows.forEach((row, index) => expect(row.score).toBeCloseTo(expected[index]!.score, 9));
    }
    // Both datasets' passages were ranked against each other.
    expect(fromSmall.size).toBeGreaterThan(0);
  });

  it('stays exact when the first threshold pairs only the rarer words (a common word left out)', async () => {
    // "harbour" in every document; "quay", "jetty" and "beacon" each in a few, together in
    // fewer (each document one chunk), so a question of all four has fewer complete passages than it asks for and its
    // first threshold pairs the three rare words only (migrations/…_keyword_pairs_without_common_words.ts).
    const filler = generatedCorpus(60, 41);
    // Two documents hold two of the rare words (0: quay and jetty; 34: jetty and beacon), none all three.
    const holders: Record<string, number[]> = { quay: [0, 13, 26, 39, 52], jetty: [0, 17, 34, 51], beacon: [5, 34, 44, 55] };
    const documents = filler.map((document, index) => ({
      title: document.title,
      text: `harbour ${Object.keys(holders).filter((word) => holders[word]!.includes(index)).join(' ')} ${document.text}`,
    }));
    const setup = await endpointOver(server, owner.token, documents);
    const datasetId = databaseIdOf(setup.datasetId);
    const { rows: counts } = await withClient(server.database.ownerUrl, (client) =>
      client.query<{ term: string; share: number }>(
        `select x.term, x.chunk_count::float8 / d.search_chunk_count as share from dataset_terms x join datasets d on d.id = x.dataset_id
          where x.dataset_id = $1 and x.term in ('harbour', 'quay', 'jetti', 'beacon')`,
        [datasetId],
      ),
    );
    const share = Object.fromEntries(counts.map((row) => [row.term, row.share]));
    expect(share.harbour).toBe(1);
    for (const term of ['quay', 'jetti', 'beacon']) expect(share[term], term).toBeLessThanOrEqual(0.1);
    const question = 'harbour quay jetty beacon';
    for (const topK of [10, 5]) {
      const expected = await bruteForce(datasetId, question, topK);
      expect(expected.length).toBe(topK);
      const stepped = await withClient(server.database.ownerUrl, (client) =>
        client.query<{ chunk_id: string; score: number; complete: boolean }>(
          `select chunk_id, score, complete from sluice_bm25_search($1::uuid[], 'english', $2, false, $3, 1000000, 0)`,
          [`{${datasetId}}`, question, topK],
        ),
      );
      expect(stepped.rows.filter((row) => row.complete).length, 'fewer complete passages than asked for').toBeLessThan(topK);
      expect(stepped.rows.map((row) => row.chunk_id), `top ${topK}`).toEqual(expected.map((chunk) => chunk.chunkId));
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
    // The retriever skips plain_question_text for questions of words and numbers between blanks
    // (readsAsTokens false): both readings must give the same lexemes, in the same order.
    const unread = ["What's the river's flow, in 1972?", 'naïve Straße  café42 (lock)!', 'how does the lock fill?', "x10 don't 7 canal;"];
    for (const question of unread) {
      expect(readsAsTokens(question), question).toBe(false);
      const { rows } = await withClient(server.database.ownerUrl, (client) =>
        client.query<{ same: boolean; lexemes: string }>(
          `select to_tsvector('english', plain_question_text('english', $1)) = to_tsvector('english', $1) as same, to_tsvector('english', $1)::text as lexemes`,
          [question],
        ),
      );
      expect(rows[0], question).toMatchObject({ same: true });
      expect(rows[0]!.lexemes, question).not.toBe('');
    }
    for (const question of ['x-ray', '/boat-tail/', 'www.nasa.gov', 'a@b.org', '1.5 m', 'i.e', 'snake_case']) expect(readsAsTokens(question), question).toBe(true);
  });

  it('counts a word once per document, whichever statements add, change and remove its chunks', async () => {
    const setup = await endpointOver(server, owner.token, generatedCorpus(6, 41, 60), { ingestion: { chunkSize: 100, chunkOverlap: 0 } });
    const datasetId = databaseIdOf(setup.datasetId);
    // (Bounds are exact only while nothing was deleted: earlier tests replaced documents.)
    expect(await statisticsDrift()).toEqual([]);
    const sql = <T extends Record<string, unknown>>(text: string, values: unknown[] = []) =>
      withClient(server.database.ownerUrl, async (client) => (await client.query<T>(text, values)).rows);
    const [document] = await sql<{ document_id: string }>('select document_id from chunks where dataset_id = $1 group by 1 order by 1 limit 1', [datasetId]);
    const documentId = document!.document_id;
    const documentsHolding = async (word: string) =>
      (await sql<{ n: number }>(`select coalesce(sum(document_count), 0)::int as n from dataset_terms
                                  where dataset_id = $1 and term = any(tsvector_to_array(to_tsvector('english', $2)))`, [datasetId, word]))[0]!.n;

    // A document continued in a later statement (the writer batches chunks): its words that
    // earlier chunks hold are not counted again, a new word once however many chunks hold it.
    const before = await documentsHolding('waaq');
    expect(await sql('select 1 from chunks where document_id = $1 and search @@ $2::tsquery', [documentId, 'waaq'])).not.toEqual([]);
    await sql(`insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language)
               select gen_random_uuid(), tenant_id, dataset_id, document_id, 1000 + n, 'waaq sluicegate sluicegate', 0, 25, language
                 from chunks cross join generate_series(1, 2) as n where document_id = $1 and ordinal = 0`, [documentId]);
    expect(await statisticsDrift()).toEqual([]);
    expect(await documentsHolding('sluicegate')).toBe(1);
    // "waaq", the commonest word, is in this document already: the same count.
    expect(await documentsHolding('waaq')).toBe(before);

    // One chunk changed in place, one removed: the word stays counted while a chunk holds it.
    await sql(`update chunks set content = 'sluicegate keeper' where document_id = $1 and ordinal = 0`, [documentId]);
    expect(await statisticsDrift()).toEqual([]);
    await sql('delete from chunks where document_id = $1 and ordinal = 1001', [documentId]);
    expect(await statisticsDrift()).toEqual([]);
    expect(await documentsHolding('sluicegate')).toBe(1);
    await sql('delete from chunks where document_id = $1 and ordinal in (0, 1002)', [documentId]);
    expect(await statisticsDrift()).toEqual([]);
    expect(await documentsHolding('sluicegate')).toBe(0);

    // The whole document gone: the dataset counts one document fewer.
    const [{ documents }] = (await sql<{ documents: number }>('select search_document_count::int as documents from datasets where id = $1', [datasetId])) as [{ documents: number }];
    await sql('delete from chunks where document_id = $1', [documentId]);
    expect(await statisticsDrift()).toEqual([]);
    expect((await sql<{ documents: number }>('select search_document_count::int as documents from datasets where id = $1', [datasetId]))[0]!.documents).toBe(documents - 1);
  });

  it('reads a plain question with -word as its other words, minus the passages holding the excluded one', async () => {
    const setup = await endpointOver(server, owner.token, [
      { title: 'Wings', text: 'Supersonic flow over swept wings.' },
      { title: 'Dash', text: 'Supersonic flow during a dash at altitude.' },
      { title: 'Papers', text: 'Experimental papers on flow separation.' },
      { title: 'Boats', text: 'Boats on the canal.' },
    ]);
    // It required every other word (no passage has all four) and found nothing.
    const titles = (await ranked(owner, setup, 'supersonic flow -dash experimental papers')).map((passage) => passage.documentTitle);
    expect(titles.sort()).toEqual(['Papers', 'Wings']);
    // The same words without the exclusion find the excluded passage too.
    expect((await ranked(owner, setup, 'supersonic flow experimental papers')).map((passage) => passage.documentTitle).sort()).toEqual(['Dash', 'Papers', 'Wings']);
    // Excluding a stop word excludes nothing; quotes still make the whole query search syntax.
    expect((await ranked(owner, setup, 'supersonic -the')).map((passage) => passage.documentTitle).sort()).toEqual(['Dash', 'Wings']);
    expect((await ranked(owner, setup, '"supersonic flow" -dash')).map((passage) => passage.documentTitle)).toEqual(['Wings']);
  });

  it('scores with the dataset’s own statistics: another tenant’s documents move nothing', async () => {
    const setup = await endpointOver(server, owner.token, generatedCorpus(25, 29));
    const before = await ranked(owner, setup, 'wabq wbaq', 10);
    expect(before.length).toBeGreaterThan(0);
    await endpointOver(server, other.token, generatedCorpus(40, 31));
    expect(await ranked(owner, setup, 'wabq wbaq', 10)).toEqual(before);
  });
});
