/**
 * Highlights mark matched words with `**`; a passage's own `*` and `\` come escaped (`\*`,
 * `\\`, as Markdown escapes them), so a consumer can always tell a marker from the text. Until
 * 2026-12-05 "The **pressure** gauge reads 2**10" gave a highlight whose markers paired with
 * the text's stars: "pressure" looked matched and the console showed "210". Adjacent matches
 * share one mark. Semantic passages (no word matched) carry the same escaping.
 *
 * fake-openai is a test double for a third-party embeddings server: a real HTTP server on
 * 127.0.0.1 speaking the real `/v1/embeddings` protocol (hashed character trigrams).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createModel, endpointOver, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const GAUGE = 'The **pressure** gauge reads 2**10 units; valve a*b*c sits in C:\\pumps.';
const SHIFTS = 'Keepers work shifts 9-17 on weekdays.';

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer();
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

const highlights = async (reference: string, question: string) => {
  const body = await queryEndpoint(server, owner.token, reference, question, undefined, 'passages { highlight }');
  expect(body.errors).toBeUndefined();
  return body.data.queryEndpoint.passages.map((passage: { highlight: string }) => passage.highlight);
};

it("escapes the text's stars and backslashes, so ** is only ever a marker", async () => {
  const { reference } = await endpointOver(server, owner.token, [
    { title: 'Gauge', text: GAUGE },
    { title: 'Shifts', text: SHIFTS },
  ]);
  // ts_headline's fragment (it chose to start at "pressure"), with the text's stars and backslash escaped.
  expect(await highlights(reference, 'gauge units')).toEqual(['pressure\\*\\* **gauge** reads 2\\*\\*10 **units**; valve a\\*b\\*c sits in C:\\\\pumps']);
  // Adjacent matches, one mark: not "**9****-17**".
  expect(await highlights(reference, 'shifts 9-17')).toEqual(['Keepers work **shifts** **9-17** on weekdays']);
});

it("escapes a semantic passage's opening the same way", async () => {
  const model = await createModel(server, owner.token, {
    name: uniqueSlug('emb'),
    type: 'openai-compatible-embeddings',
    config: { baseUrl: fake.baseUrl, model: 'hashed-trigrams', dimensions: 32 },
  });
  const { reference } = await endpointOver(server, owner.token, [{ title: 'Gauge', text: GAUGE }], {
    dataset: { embeddingModelId: model.id },
    retrieval: { mode: 'SEMANTIC', topK: 1 },
  });
  expect(await highlights(reference, 'pressure gauge')).toEqual(['The \\*\\*pressure\\*\\* gauge reads 2\\*\\*10 units; valve a\\*b\\*c sits in C:\\\\pumps.']);
});
