/**
 * An `action` filter's only wildcard is a trailing `*`: every other character is literal.
 * `%` and `_` once reached SQL LIKE as wildcards, so `endpoint_query*` selected
 * `endpoint.query` and `%*` selected everything. Checked through the auditEvents query, the
 * JSON Lines export and the auditEvents subscription (graphql-ws), which share one reading of
 * the filter.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, must, queryEndpoint } from '../support/endpoints.js';
import { createApiKey, signUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** Filters whose `%`, `_` or `\` a LIKE would read as pattern syntax: each selects nothing here. */
const LITERAL_MISSES = ['endpoint_query', 'endpoint%', 'endpoint_query*', 'endpoint%*', 'config.apiKey_*', '%*', '_*', 'auth.credential\\_*'];

const actionsOf = async (token: string, action: string) => {
  const data = await must(server, token, 'query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { events { action } } }', { f: { action } });
  return (data.auditEvents.events as { action: string }[]).map((event) => event.action).reverse();
};

describe('the auditEvents query and the export', () => {
  it('take %, _ and \\ literally, and a trailing * as the only wildcard', { timeout: 60_000 }, async () => {
    const owner = await signUp(server);
    const token = owner.accessToken;
    const setup = await endpointOver(server, token, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates.' }]);
    expect((await queryEndpoint(server, token, setup.reference, 'lock keeper', undefined, 'answer')).errors).toBeUndefined();
    const key = (await createApiKey(server, token, { name: 'wildcards', scopes: ['READ'] })).body.data.createApiKey.secret as string;
    // A wrong secret for the tenant's key: `auth.credential_refused`, an action with a real `_`.
    const wrong = `${key.slice(0, 12)}${randomBytes(32).toString('base64url').slice(0, 35)}`;
    expect((await server.graphql('{ viewer { kind } }', { headers: { 'x-api-key': wrong } })).status).toBe(401);
    await auditEventsOf(server, token, 1, { action: 'auth.credential_refused' });
    await auditEventsOf(server, token, 1, { action: 'config.apiKey.create' });

    for (const action of LITERAL_MISSES) expect({ action, selected: await actionsOf(token, action) }).toEqual({ action, selected: [] });
    // The documented forms still select what they name, `_` included.
    expect(await actionsOf(token, 'endpoint.query')).toEqual(['endpoint.query']);
    expect(await actionsOf(token, 'endpoint.*')).toEqual(['endpoint.query']);
    expect(await actionsOf(token, 'config.apiKey.*')).toEqual(['config.apiKey.create']);
    expect(await actionsOf(token, 'auth.credential_*')).toEqual(['auth.credential_refused']);
    const all = await actionsOf(token, '*');
    expect(all).toEqual(expect.arrayContaining(['endpoint.query', 'config.apiKey.create', 'auth.credential_refused', 'graphql.mutation']));

    const exported = async (action: string) => {
      const response = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl?action=${encodeURIComponent(action)}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      return (await response.text()).split('\n').filter(Boolean).map((line) => JSON.parse(line).action as string);
    };
    expect(await exported('endpoint_query*')).toEqual([]);
    expect(await exported('%*')).toEqual([]);
    expect(await exported('endpoint.*')).toEqual(['endpoint.query']);
  });
});

describe('the auditEvents subscription', () => {
  const LIVE = 'subscription($filter: AuditEventFilter) { auditEvents(filter: $filter) { action details } }';
  type Seen = { action: string; name: string | undefined };

  /** Collects what the subscription sends (action and key name) until stopped. */
  function collect(client: Client, action: string, seen: Seen[], onEvent: () => void = () => undefined) {
    const iterator = client.iterate({ query: LIVE, variables: { filter: { action } } });
    const reading = (async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        expect(next.value.errors).toBeUndefined();
        const event = (next.value.data as { auditEvents: { action: string; details: { after?: { name?: string } } } }).auditEvents;
        seen.push({ action: event.action, name: event.details.after?.name });
        onEvent();
      }
    })();
    return { stop: async () => (await iterator.return?.(), await reading) };
  }

  it('sends nothing for a filter whose %, _ or \\ only a LIKE would have matched', { timeout: 60_000 }, async () => {
    const owner = await signUp(server);
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${owner.accessToken}` } });
    const missed: Record<string, Seen[]> = { 'config.apiKey_*': [], 'config%*': [], '%*': [], '_*': [], 'config\\.*': [] };
    const control: Seen[] = [];
    let waiting: { until: (seen: Seen[]) => boolean; resolve: () => void } | undefined;
    const seenInControl = (until: (seen: Seen[]) => boolean) =>
      new Promise<void>((resolve) => {
        if (until(control)) resolve();
        else waiting = { until, resolve };
      });
    const readers = [
      ...Object.entries(missed).map(([action, seen]) => collect(client, action, seen)),
      // The documented prefix: proof that keys were written and read while the others listened.
      collect(client, 'config.apiKey.*', control, () => {
        if (waiting?.until(control)) waiting.resolve();
      }),
    ];
    try {
      // The subscriptions start asynchronously: keep writing until the control has three keys.
      const writes: Promise<unknown>[] = [];
      const writer = setInterval(() => writes.push(createApiKey(server, owner.accessToken, { name: `live-${writes.length}`, scopes: ['READ'] })), 150);
      try {
        await seenInControl((seen) => seen.length >= 3);
      } finally {
        clearInterval(writer);
        await Promise.all(writes);
      }
      // One key more, written after all the others: once the control has it, every reader was
      // woken after the last of them was written (the same write hint wakes every reader).
      await createApiKey(server, owner.accessToken, { name: 'last', scopes: ['READ'] });
      await seenInControl((seen) => seen.some((event) => event.name === 'last'));
    } finally {
      await Promise.all(readers.map((reader) => reader.stop()));
      await client.dispose();
    }
    expect(control.every((event) => event.action === 'config.apiKey.create')).toBe(true);
    expect(missed).toEqual({ 'config.apiKey_*': [], 'config%*': [], '%*': [], '_*': [], 'config\\.*': [] });
  });
});
