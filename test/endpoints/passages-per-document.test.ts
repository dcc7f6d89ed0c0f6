/**
 * An endpoint's `passagesPerDocument` (field collapsing): at most N passages of one document
 * per answer, the next documents filling topK, in every retrieval mode, over the real server
 * and PostgreSQL. The expected answers are computed from the same endpoint's uncollapsed
 * ranking read deep (topK 50), so the test checks the rule, not a hand-picked order. SEMANTIC
 * and HYBRID embed through fake-openai: a test double for a third-party embeddings server, a
 * real HTTP server on 127.0.0.1 speaking the `/v1/embeddings` protocol (hashed trigram vectors).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, gql, must, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { embeddedDatasetAt } from '../support/embeddings.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

// "Harbour" is in every chunk of the long document (four chunks at 120 characters) and once in each short one.
const LONG = Array.from({ length: 4 }, (_, n) => `Harbour harbour harbour log ${n}: the harbour master records each harbour tide and harbour berth.`).join('\n\n');
const DOCUMENTS = [
  { title: 'Harbour log', text: LONG },
  { title: 'Ferries', text: 'The ferry leaves the harbour at dawn and returns at dusk with the mail.' },
  { title: 'Dredging', text: 'Dredgers keep the harbour channel deep enough for the largest ships.' },
  { title: 'Pilots', text: 'A pilot boards each ship at the outer buoy before it enters the harbour.' },
  { title: 'Gardens', text: 'Roses and tulips grow in the walled garden behind the old house.' },
];
const PASSAGES = 'passages { rank chunkId documentId documentTitle score ranks { keyword semantic } }';
type Passage = { rank: number; chunkId: string; documentId: string; documentTitle: string; score: number; ranks: { keyword: number | null; semantic: number | null } };

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
let datasetId: string;
let chatModelId: string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0' } });
  owner = await tenantWithOwner(server);
  ({ datasetId } = await embeddedDatasetAt(server, owner.token, fake.baseUrl, { dimensions: 64, documents: DOCUMENTS, options: { chunkSize: 120, chunkOverlap: 0 } }));
  chatModelId = (await createModel(server, owner.token, { name: uniqueSlug('extractive'), type: 'extractive' })).id;
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

async function endpoint(retrieval: Record<string, unknown>): Promise<string> {
  const data = await must(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }', {
    input: { name: 'Harbour', slug: uniqueSlug('ep'), datasetIds: [datasetId], modelId: chatModelId, retrieval },
  });
  return data.createEndpoint.reference;
}

async function passages(reference: string, question: string, topK?: number): Promise<Passage[]> {
  const { data, errors } = await queryEndpoint(server, owner.token, reference, question, topK ? { topK } : undefined, PASSAGES);
  expect(errors).toBeUndefined();
  return data.queryEndpoint.passages;
}

/** What collapsing must give: the ranking's passages in order, at most `perDocument` of a document, up to `topK`. */
function expectedFrom(ranking: Passage[], perDocument: number, topK: number): string[] {
  const seen = new Map<string, number>();
  return ranking
    .filter((passage) => {
      const count = seen.get(passage.documentId) ?? 0;
      seen.set(passage.documentId, count + 1);
      return count < perDocument;
    })
    .slice(0, topK)
    .map((passage) => passage.chunkId);
}

const byDocument = (found: Passage[]) => found.reduce((counts, passage) => counts.set(passage.documentId, (counts.get(passage.documentId) ?? 0) + 1), new Map<string, number>());

describe('passagesPerDocument', () => {
  it.each(['KEYWORD', 'SEMANTIC'])('%s: keeps the best of each document and fills topK from the next documents', async (mode) => {
    const question = 'harbour berth';
    const unlimited = await endpoint({ mode, topK: 3 });
    const deep = await passages(unlimited, question, 50);
    // Without the limit the long document crowds the answer.
    expect(Math.max(...byDocument(await passages(unlimited, question)).values())).toBeGreaterThan(1);

    const one = await endpoint({ mode, topK: 3, passagesPerDocument: 1 });
    const found = await passages(one, question);
    expect(found.map((passage) => passage.chunkId)).toEqual(expectedFrom(deep, 1, 3));
    expect(new Set(found.map((passage) => passage.documentId)).size).toBe(3);
    expect(found.map((passage) => passage.rank)).toEqual([1, 2, 3]);
    // Each passage keeps the place its ranking gave it, skipped passages counted.
    const rankOf = mode === 'KEYWORD' ? (p: Passage) => p.ranks.keyword : (p: Passage) => p.ranks.semantic;
    expect(found.map(rankOf)).toEqual(found.map((passage) => deep.findIndex((other) => other.chunkId === passage.chunkId) + 1));

    const two = await endpoint({ mode, topK: 4, passagesPerDocument: 2 });
    const foundTwo = await passages(two, question);
    expect(foundTwo.map((passage) => passage.chunkId)).toEqual(expectedFrom(deep, 2, 4));
    expect(Math.max(...byDocument(foundTwo).values())).toBe(2);
  });

  it('HYBRID: collapses the fused ranking', async () => {
    const question = 'harbour berth';
    const deep = await passages(await endpoint({ mode: 'HYBRID', topK: 3 }), question, 50);
    const found = await passages(await endpoint({ mode: 'HYBRID', topK: 3, passagesPerDocument: 1 }), question);
    expect(found.map((passage) => passage.chunkId)).toEqual(expectedFrom(deep, 1, 3));
  });

  it('answers fewer than topK when fewer documents match, and the override of topK per query applies', async () => {
    const reference = await endpoint({ topK: 5, passagesPerDocument: 1 });
    // Only the long document holds "berth": one passage, not four.
    expect((await passages(reference, 'berth')).map((passage) => passage.documentTitle)).toEqual(['Harbour log']);
    expect((await passages(reference, 'harbour', 2)).length).toBe(2);
  });

  it('is read back, changed, cleared, and refused outside 1 to 50', async () => {
    const created = await must(server, owner.token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id retrieval { passagesPerDocument } } }', {
      input: { name: 'Harbour', slug: uniqueSlug('ep'), datasetIds: [datasetId], modelId: chatModelId, retrieval: { passagesPerDocument: 2 } },
    });
    expect(created.createEndpoint.retrieval.passagesPerDocument).toBe(2);
    const update = (retrieval: Record<string, unknown>) =>
      gql(server, owner.token, 'mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { retrieval { topK passagesPerDocument } } }', {
        id: created.createEndpoint.id,
        input: { retrieval },
      });
    expect((await update({ topK: 7 })).data.updateEndpoint.retrieval).toEqual({ topK: 7, passagesPerDocument: 2 });
    expect((await update({ passagesPerDocument: null })).data.updateEndpoint.retrieval).toEqual({ topK: 7, passagesPerDocument: null });
    for (const bad of [0, 51, -1]) {
      const refused = await update({ passagesPerDocument: bad });
      expect(refused.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'passagesPerDocument' });
    }
    const unchanged = await must(server, owner.token, 'query($id: ID!) { node(id: $id) { ... on Endpoint { retrieval { passagesPerDocument } } } }', { id: created.createEndpoint.id });
    expect(unchanged.node.retrieval.passagesPerDocument).toBeNull();
  });
});
