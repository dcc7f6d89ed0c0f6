/**
 * The live audit trail with a filter: the `auditEvents` subscription takes the query's
 * `AuditEventFilter` and the server sends only the events it selects (no client-side
 * filtering); a bad filter is refused as BAD_USER_INPUT; two tenants watching with the same
 * filter never see each other's events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createApiKey, signUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

type Seen = { action: string; outcome: string; details: { after?: { name?: string } } };

function wsClient(token: string): Client {
  return createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
}

const LIVE = 'subscription($filter: AuditEventFilter) { auditEvents(filter: $filter) { action outcome details } }';

/** Reads the subscription until `done(seen)`; what it received, in order. */
async function readUntil(client: Client, filter: Record<string, unknown>, done: (seen: Seen[]) => boolean): Promise<Seen[]> {
  const iterator = client.iterate({ query: LIVE, variables: { filter } });
  const seen: Seen[] = [];
  try {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      expect(next.value.errors).toBeUndefined();
      seen.push((next.value.data as { auditEvents: Seen }).auditEvents);
      if (done(seen)) break;
    }
  } finally {
    await iterator.return?.();
  }
  return seen;
}

describe('the auditEvents subscription with a filter', () => {
  it('sends only the events the filter selects, and only the subscriber’s tenant’s', { timeout: 60_000 }, async () => {
    const [acme, other] = await Promise.all([signUp(server, { tenantName: 'Acme' }), signUp(server, { tenantName: 'Other' })]);
    const [acmeClient, otherClient] = [wsClient(acme.accessToken), wsClient(other.accessToken)];
    const named = (prefix: string) => (seen: Seen[]) => seen.filter((event) => event.details.after?.name?.startsWith(prefix)).length >= 2;
    try {
      // Both tenants watch with the same filter, so only the tenant keeps them apart.
      const filter = { action: 'config.apiKey.*' };
      const reading = Promise.all([readUntil(acmeClient, filter, named('acme-')), readUntil(otherClient, filter, named('other-'))]);
      // Each createApiKey writes config.apiKey.create then graphql.mutation: unfiltered, the
      // mutations would arrive between the key events. The subscriptions start asynchronously,
      // so both tenants keep writing until each subscriber has two of its own.
      const writes: Promise<unknown>[] = [];
      const writer = setInterval(() => {
        writes.push(createApiKey(server, acme.accessToken, { name: `acme-${writes.length}`, scopes: ['READ'] }));
        writes.push(createApiKey(server, other.accessToken, { name: `other-${writes.length}`, scopes: ['READ'] }));
      }, 150);
      let seen: [Seen[], Seen[]];
      try {
        seen = await reading;
      } finally {
        clearInterval(writer);
        await Promise.allSettled(writes);
      }
      const [acmeSeen, otherSeen] = seen;
      for (const [events, own] of [
        [acmeSeen, /^acme-\d+$/],
        [otherSeen, /^other-\d+$/],
      ] as const) {
        expect(events.length).toBeGreaterThanOrEqual(2);
        expect(events.map((event) => `${event.action} ${event.outcome}`)).toEqual(events.map(() => 'config.apiKey.create ok'));
        expect(events.every((event) => own.test(event.details.after?.name ?? ''))).toBe(true);
      }
    } finally {
      await Promise.all([acmeClient.dispose(), otherClient.dispose()]);
    }
  });

  it('refuses a bad filter as BAD_USER_INPUT, as the query and the export do', async () => {
    const owner = await signUp(server);
    const client = wsClient(owner.accessToken);
    try {
      for (const filter of [{ action: 'config.*.create' }, { from: 'yesterday' }]) {
        const query = await server.graphql('query($filter: AuditEventFilter) { auditEvents(filter: $filter) { events { id } } }', { token: owner.accessToken, variables: { filter } });
        expect(query.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
        const refusal = await firstResult(client, filter);
        expect(refusal).toEqual({ code: 'BAD_USER_INPUT', message: query.body.errors[0].message });
      }
      // The JSON Lines export reads the filter the same way.
      const exported = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl?action=${encodeURIComponent('config.*.create')}`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
      expect(exported.status).toBe(400);
      expect((await exported.json()).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    } finally {
      await client.dispose();
    }
  });
});

/** The subscription's refusal: its first result's error, or the operation's error message. */
async function firstResult(client: Client, filter: Record<string, unknown>): Promise<{ code: unknown; message: string }> {
  const iterator = client.iterate({ query: LIVE, variables: { filter } });
  try {
    const next = await iterator.next();
    const error = next.done ? undefined : next.value.errors?.[0];
    if (!error) throw new Error(`expected a refusal, got ${JSON.stringify(next)}`);
    return { code: error.extensions?.code, message: error.message };
  } catch (errors) {
    if (!Array.isArray(errors)) throw errors;
    return { code: errors[0].extensions?.code, message: errors[0].message };
  } finally {
    await iterator.return?.();
  }
}
