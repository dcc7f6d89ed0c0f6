/**
 * Streamed answers: the `endpointQuery` subscription over graphql-ws and SSE (passages, then
 * answer pieces, usage, completion, in that order), refusals before the stream starts, and
 * `@stream` / `@defer` on `queryEndpoint` over multipart/mixed.
 */
import { createClient } from 'graphql-ws';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { endpointOver, endpointQueryOverWebSocket, EVENT_FIELDS, type EndpointSetup } from '../support/endpoints.js';
import { untilLockWaiters } from '../support/locks.js';
import { overSse, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [
  { title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' },
  { title: 'Weirs', text: 'A weir holds water back across a river. Water flows over the crest of the weir.' },
];

let server: TestServer;
let owner: Tenant;
let other: Tenant;
let setup: EndpointSetup;
beforeAll(async () => {
  server = await startTestServer();
  [owner, other] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  setup = await endpointOver(server, owner.token, DOCS);
});
afterAll(async () => {
  await server?.close();
});

/** The sequence of event kinds, with runs of answer deltas folded into one. */
function shape(events: { __typename: string }[]): string[] {
  return events.map((event) => event.__typename).filter((kind, index, all) => kind !== 'EndpointQueryAnswerDelta' || all[index - 1] !== kind);
}

describe('endpointQuery subscription', () => {
  it('streams passages, answer pieces, usage and completion over graphql-ws', async () => {
    const results = await endpointQueryOverWebSocket(server, owner.token, setup.reference, 'how does water fill the lock chamber');
    const events = results.map((result) => result.data.endpointQuery);
    expect(shape(events)).toEqual([
      'EndpointQueryRetrieved',
      'EndpointQueryRetrieved',
      'EndpointQueryAnswerDelta',
      'EndpointQueryUsage',
      'EndpointQueryCompleted',
    ]);
    expect(events.filter((event) => event.passage).map((event) => event.passage.rank)).toEqual([1, 2]);
    const deltas = events.filter((event) => event.__typename === 'EndpointQueryAnswerDelta').map((event) => event.text);
    const completed = events.at(-1);
    expect(deltas.join('')).toBe(completed.answer);
    expect(completed.citations.length).toBeGreaterThan(0);
    expect(events.find((event) => event.usage).usage.totalTokens).toBeGreaterThan(0);
  });

  it('streams the same over SSE and completes', async () => {
    const { status, events } = await overSse(
      server.url,
      owner.token,
      `subscription($e: String!, $q: String!) { endpointQuery(endpoint: $e, query: $q) { ${EVENT_FIELDS} } }`,
      { e: setup.reference, q: 'weir crest' },
    );
    expect(status).toBe(200);
    const kinds = shape(events.map((event: any) => event.data.endpointQuery));
    expect(kinds[0]).toBe('EndpointQueryRetrieved');
    expect(kinds.slice(-2)).toEqual(['EndpointQueryUsage', 'EndpointQueryCompleted']);
  });

  it('counts a finished query before it says completed: the caller’s usage read on completion includes it', async () => {
    const myQueries = async () => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
        body: JSON.stringify({ query: 'query($e: String!) { myUsage(endpoint: $e) { queries } }', variables: { e: setup.reference } }),
      });
      return ((await response.json()) as any).data.myUsage.queries as number;
    };
    const before = await myQueries();
    // Usage records cannot be written while this is held (reads go on).
    const holder = new pg.Client({ connectionString: server.database.ownerUrl });
    await holder.connect();
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${owner.token}` } });
    try {
      await holder.query('begin');
      await holder.query('lock table usage_records in share row exclusive mode');
      const kinds: string[] = [];
      const streamed = (async () => {
        for await (const result of client.iterate({
          query: `subscription($e: String!, $q: String!) { endpointQuery(endpoint: $e, query: $q) { ${EVENT_FIELDS} } }`,
          variables: { e: setup.reference, q: 'sluice gates' },
        })) {
          kinds.push((result.data as any)?.endpointQuery?.__typename ?? 'error');
        }
      })();
      await untilLockWaiters(server, { startingWith: 'select record_query_usage' }, 1, 'usage records');
      // The answer is out, its record waits: no completion has been sent.
      expect(kinds).not.toContain('EndpointQueryCompleted');
      await holder.query('commit');
      await streamed;
      expect(kinds.at(-1)).toBe('EndpointQueryCompleted');
      // Read at once on completion, as the console's playground does.
      expect(await myQueries()).toBe(before + 1);
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
      await client.dispose();
    }
  });

  it('refuses another tenant’s unpublished endpoint before streaming, with NOT_FOUND', async () => {
    const results = await endpointQueryOverWebSocket(server, other.token, setup.reference, 'water');
    expect(results).toHaveLength(1);
    expect(results[0].errors[0].extensions.code).toBe('NOT_FOUND');
  });
});

describe('@stream and @defer on queryEndpoint', () => {
  it('delivers the passages one by one and the answer in a later part', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'multipart/mixed', authorization: `Bearer ${owner.token}` },
      body: JSON.stringify({
        query: `query($e: String!, $q: String!) { queryEndpoint(endpoint: $e, query: $q) {
          passages @stream(initialCount: 0) { rank documentTitle }
          ... @defer(label: "answer") { answer citations { marker } }
        } }`,
        variables: { e: setup.reference, q: 'water' },
      }),
    });
    expect(response.headers.get('content-type')).toMatch(/^multipart\/mixed/);
    const text = await response.text();
    const parts = text
      .split(/\r?\n---/)
      .map((part) => part.slice(part.indexOf('{')))
      .filter((part) => part.startsWith('{'))
      .map((part) => JSON.parse(part));
    // First the shell with no passages yet, then each passage, then the deferred answer.
    expect(parts[0].data.queryEndpoint.passages).toEqual([]);
    const incremental = parts.slice(1).flatMap((part) => part.incremental ?? []);
    const streamed = incremental.filter((item: any) => item.items).flatMap((item: any) => item.items);
    expect(streamed.map((passage: any) => passage.rank)).toEqual([1, 2]);
    const deferred = incremental.find((item: any) => item.label === 'answer');
    expect(deferred.data.answer).toMatch(/\[\d\]/);
    expect(parts.at(-1).hasNext).toBe(false);
  });
});
