/**
 * A tenant's IP allow-list holds for subscriptions already running: once the list leaves out
 * a subscriber's address, its subscription ends (graphql-ws and SSE alike) with the error a
 * new operation from there gets, FORBIDDEN / IP_NOT_ALLOWED, on the credential watch's
 * periodic re-check; another tenant's subscription goes on.
 */
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { must } from '../support/endpoints.js';
import { signUp } from '../support/identity.js';
import { untilSubscriptionTopics } from '../support/metrics.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  // One trusted proxy: the list is set by a request forwarded for an address inside it, while
  // the subscribers connect directly from 127.0.0.1.
  server = await startTestServer({ env: { SLUICE_CREDENTIAL_RECHECK_MS: '200', SLUICE_TRUST_PROXY: '1' } });
});
afterAll(() => server?.close());

// Re-checks every 200 ms, plus up to the allow-list cache's 5 s.
const DEADLINE_MS = 20_000;

/** A graphql-ws subscription: every result it sent, once it ends. */
function overWebSocket(client: Client, query: string) {
  const iterator = client.iterate({ query })[Symbol.asyncIterator]();
  const ended = (async () => {
    const results: any[] = [];
    for (;;) {
      const next = await iterator.next();
      if (next.done) return results;
      results.push(next.value);
    }
  })();
  return { ended };
}

/** An SSE subscription: resolves once the server answered, with every result it sent by the stream's end. */
async function overSse(token: string, query: string) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  expect([response.status, response.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/event-stream/)]);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const ended = (async () => {
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    return text
      .split('\n\n')
      .filter((event) => event.startsWith('event: next'))
      .map((event) => JSON.parse(event.slice(event.indexOf('data: ') + 'data: '.length)));
  })();
  return { ended };
}

/** `promise`, or a failure naming `what` once `ms` have passed. */
function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not after ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const connect = (token: string) => createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });

it('ends live subscriptions over graphql-ws and SSE once the allow-list leaves out their address; other tenants’ go on', { timeout: 60_000 }, async () => {
  const fenced = await signUp(server);
  const other = await signUp(server);
  const fencedClient = connect(fenced.accessToken);
  const otherClient = connect(other.accessToken);
  try {
    const ws = overWebSocket(fencedClient, 'subscription { auditEvents { action } }');
    // Another filter, so another topic: three topics say all three subscriptions passed their start.
    const sse = await overSse(fenced.accessToken, 'subscription { auditEvents(filter: { action: "graphql.*" }) { action } }');
    const untouched = otherClient.iterate({ query: 'subscription { auditEvents { action } }' })[Symbol.asyncIterator]();
    await untilSubscriptionTopics(server, 3, DEADLINE_MS);

    const set = await server.graphql('mutation($l: [String!]) { updateTenantSettings(input: { ipAllowList: $l }) { ipAllowList } }', {
      token: fenced.accessToken,
      variables: { l: ['10.1.0.0/16'] },
      headers: { 'x-forwarded-for': '10.1.2.3' },
    });
    expect(set.body).toEqual({ data: { updateTenantSettings: { ipAllowList: ['10.1.0.0/16'] } } });

    const [wsResults, sseResults] = await Promise.all([within(ws.ended, 'the graphql-ws subscription ended'), within(sse.ended, 'the SSE stream ended')]);
    for (const results of [wsResults, sseResults]) {
      const last = results.at(-1);
      expect(last.data ?? null).toBeNull();
      expect(last.errors).toHaveLength(1);
      expect(last.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'IP_NOT_ALLOWED' });
      expect(last.errors[0].message).toContain('127.0.0.1 is not one');
    }
    // The ended subscriptions let go of their readers; the other tenant's is still there.
    await untilSubscriptionTopics(server, 1, DEADLINE_MS);

    // And it still delivers: the other tenant's next audited operation arrives, and nothing ended it.
    await must(server, other.accessToken, 'mutation { updateTenantSettings(input: { name: "Still here" }) { name } }');
    const delivered: any[] = [];
    await within(
      (async () => {
        while (!delivered.some((result) => result.data?.auditEvents?.action === 'graphql.mutation')) {
          const next = await untouched.next();
          if (next.done) throw new Error(`the other tenant's subscription ended after ${JSON.stringify(delivered)}`);
          delivered.push(next.value);
        }
      })(),
      'the other tenant’s event arrived',
    );
    expect(delivered.map((result) => result.errors ?? null)).toEqual(delivered.map(() => null));
    expect(delivered.at(-1)).toEqual({ data: { auditEvents: { action: 'graphql.mutation' } } });
  } finally {
    await fencedClient.dispose();
    await otherClient.dispose();
  }
});
