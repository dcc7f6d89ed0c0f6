/**
 * Exclusions and negative numbers in keyword questions (a user review, 2026-12-05): a question
 * that only excludes ('-"clockwork lamp"') or excludes beside an OR ("zeppelin OR -lamp")
 * matched every passage without the excluded words, at score 0, and those filled the answer;
 * and "-40" was read as "exclude 40", so "temperature -40" dropped the one passage about it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { endpointOver, queryEndpoint, type EndpointSetup } from '../support/endpoints.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: Tenant;
let setup: EndpointSetup;
beforeAll(async () => {
  server = await startTestServer();
  owner = await tenantWithOwner(server);
  setup = await endpointOver(
    server,
    owner.token,
    [
      { title: 'Lamp', text: 'The clockwork lamp turns once every ten seconds.' },
      { title: 'Cold', text: 'The valve works from -40 to 85 degrees of temperature.' },
      { title: 'Ships', text: 'A zeppelin moored above the harbour in 1912.' },
      { title: 'Tides', text: 'The tide rises twice a day along the coast.' },
    ],
    { retrieval: { topK: 4 } },
  );
});
afterAll(async () => {
  await server?.close();
});

async function titlesFor(query: string): Promise<string[]> {
  const body = await queryEndpoint(server, owner.token, setup.reference, query, undefined, 'passages { documentTitle score }');
  expect(body.errors).toBeUndefined();
  for (const passage of body.data.queryEndpoint.passages) expect(passage.score).toBeGreaterThan(0);
  return body.data.queryEndpoint.passages.map((passage: { documentTitle: string }) => passage.documentTitle);
}

it('finds nothing for a question that only excludes, and only the asked words beside an OR', async () => {
  expect(await titlesFor('-"clockwork lamp"')).toEqual([]);
  expect(await titlesFor('-lamp')).toEqual([]);
  expect(await titlesFor('zeppelin OR -lamp')).toEqual(['Ships']);
  // An exclusion beside a phrase still excludes.
  expect(await titlesFor('"clockwork lamp" -zeppelin')).toEqual(['Lamp']);
});

it('reads a minus before a digit as a negative number, not an exclusion', async () => {
  expect(await titlesFor('temperature -40')).toEqual(['Cold']);
  expect(await titlesFor('-40')).toEqual(['Cold']);
  // A minus before a word still excludes it.
  expect(await titlesFor('rises')).toEqual(['Tides']);
  expect(await titlesFor('rises -tide')).toEqual([]);
});
