/**
 * graphql-ws messages are screened before graphql-ws parses them (src/server/websocket-messages.ts):
 * JSON nested deeper than 128 levels, a message over its type's size, a binary frame that is not
 * UTF-8, all close the socket with 4400; more than 200 messages at once close it with 1008. An
 * anonymous caller once sent twenty 900 KB `pong`s of `[[[…]]]` after connection_init: each was
 * parsed on the shared event loop (another caller's request waited 8 s), the socket stayed open,
 * and a deep `ping` payload overflowed the stack when graphql-ws echoed it (4500). The close
 * reasons below are this server's, not graphql-ws's: the messages were refused unparsed. Real
 * `ws` sockets against a real server and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDataset, tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { scrape, sumOf } from '../support/metrics.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp } from '../limits/support.js';
import { scanMessage } from '../../src/server/websocket-messages.js';

const TOO_DEEP = { code: 4400, reason: "The message's JSON nests deeper than 128 levels" };
const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

let server: TestServer;
let owner: Tenant;
beforeAll(async () => {
  server = await startTestServer({
    worker: false,
    // Three operations per address, then none for the test's span: the address limit's refusal is seen.
    env: { SLUICE_TRUST_PROXY: '1', SLUICE_RATE_LIMITS: 'on', SLUICE_IP_RATE_LIMIT_PER_SECOND: '0.01', SLUICE_IP_RATE_LIMIT_BURST: '3' },
  });
  owner = await tenantWithOwner(server);
});
afterAll(() => server?.close());

/** A raw graphql-transport-ws socket from its own address: what it received, and how it closed. */
class Peer {
  readonly received: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly socket: WebSocket;

  constructor() {
    this.socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { headers: fromIp(freshIp()) });
    this.socket.on('message', (data) => this.received.push(JSON.parse(String(data))));
    this.closed = new Promise((resolve) => this.socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static async open(init?: Record<string, unknown>): Promise<Peer> {
    const peer = new Peer();
    await new Promise((resolve, reject) => peer.socket.once('open', resolve).once('error', reject));
    if (init) {
      peer.send(JSON.stringify({ type: 'connection_init', payload: init }));
      expect(await peer.answer('connection_ack')).toEqual({ message: { type: 'connection_ack' } });
    }
    return peer;
  }

  send(text: string | Buffer, binary = false): void {
    this.socket.send(text, { binary });
  }

  /** The first message of `type` (and `id`) received, or how the socket closed if it closed first. */
  answer(type: string, id?: string): Promise<{ message: any } | { closed: { code: number; reason: string } }> {
    const found = () => this.received.find((message) => message.type === type && (id === undefined || message.id === id));
    return new Promise((resolve) => {
      const check = () => {
        const message = found();
        if (message) resolve({ message });
      };
      check();
      this.socket.on('message', check);
      void this.closed.then((closed) => setImmediate(() => resolve({ closed })));
    });
  }

  /** After `texts`, a plain ping: answered with a pong if the socket is still open. */
  async after(...texts: string[]) {
    for (const text of texts) this.send(text);
    this.send('{"type":"ping"}');
    return this.answer('pong');
  }

  close(): void {
    this.socket.close();
  }
}

describe('a message nested deeper than 128 levels', () => {
  it('is refused with 4400 before it is parsed, whatever its type, and another caller is answered meanwhile', async () => {
    const before = sumOf(await scrape(server), 'sluice_websocket_messages_refused_total', { reason: 'too_deep' });
    const pong = `{"type":"pong","payload":{"a":${deep(450_000)}}}`;
    const [flood, other] = await Promise.all([Peer.open({}).then((peer) => peer.after(...Array.from({ length: 20 }, () => pong))), server.graphql('{ __typename }', { headers: fromIp(freshIp()) })]);
    expect(flood).toEqual({ closed: TOO_DEEP });
    expect([other.status, other.body]).toEqual([200, { data: { __typename: 'Query' } }]);

    const cases: [string, Record<string, unknown> | undefined, string][] = [
      ['connection_init', undefined, `{"type":"connection_init","payload":{"authorization":"x","extra":${deep(400_000)}}}`],
      ['ping before connection_init', undefined, `{"type":"ping","payload":{"a":${deep(450_000)}}}`],
      ['ping', {}, `{"type":"ping","payload":{"a":${deep(450_000)}}}`],
      ['subscribe', {}, `{"id":"1","type":"subscribe","payload":{"query":"query($v: String) { __typename }","variables":{"v":${deep(400_000)}}}}`],
      ['complete', {}, `{"id":"1","type":"complete","extra":${deep(129)}}`],
    ];
    for (const [name, init, text] of cases) {
      const peer = await Peer.open(init);
      expect({ name, outcome: await peer.after(text) }).toEqual({ name, outcome: { closed: TOO_DEEP } });
    }

    expect(sumOf(await scrape(server), 'sluice_websocket_messages_refused_total', { reason: 'too_deep' }) - before).toBe(6);
    expect(server.logs.filter((line) => line.reason === 'too_deep' && /refused before it was parsed/.test(line.msg)).map((line) => line.messageType)).toEqual(
      expect.arrayContaining(['pong', 'connection_init', 'ping', 'subscribe', 'complete']),
    );
  });

  it('128 levels deep, in connection_init and a ping, is read: acknowledged, and the ping echoed', async () => {
    const nested = JSON.parse(deep(126)); // within connection_init's payload and the member: 128
    const peer = await Peer.open({ authorization: `Bearer ${owner.token}`, extra: nested });
    const payload = { a: JSON.parse(deep(126)) };
    peer.send(JSON.stringify({ type: 'ping', payload }));
    expect(await peer.answer('pong')).toEqual({ message: { type: 'pong', payload } });
    peer.close();
  });
});

describe('a message over its size', () => {
  /** A message of `type` exactly `bytes` long, padded in its payload (or, for complete, its id). */
  const sized = (type: string, bytes: number) => {
    const shell = type === 'complete' ? { id: '', type } : { type, payload: { pad: '' } };
    const pad = 'x'.repeat(bytes - JSON.stringify(shell).length);
    return JSON.stringify(type === 'complete' ? { id: pad, type } : { type, payload: { pad } });
  };

  it('closes the socket with 4400 past 4 KiB for ping, pong and complete, and past 16 KiB for connection_init; at the bound it is read', async () => {
    for (const type of ['ping', 'pong', 'complete']) {
      const peer = await Peer.open({});
      expect({ type, outcome: await peer.after(sized(type, 4097)) }).toEqual({ type, outcome: { closed: { code: 4400, reason: `A ${type} message may have at most 4096 bytes` } } });
    }
    const largestPing = sized('ping', 4096);
    const reader = await Peer.open({});
    reader.send(largestPing);
    expect(await reader.answer('pong')).toEqual({ message: { type: 'pong', payload: JSON.parse(largestPing).payload } });
    expect(await reader.after(sized('pong', 4096), sized('complete', 4096))).toMatchObject({ message: { type: 'pong' } });
    reader.close();

    const overInit = await Peer.open();
    expect(await overInit.after(sized('connection_init', 16_385))).toEqual({ closed: { code: 4400, reason: 'A connection_init message may have at most 16384 bytes' } });
    const atInit = await Peer.open();
    atInit.send(sized('connection_init', 16_384));
    expect(await atInit.answer('connection_ack')).toEqual({ message: { type: 'connection_ack' } });
    atInit.close();
  });

  it('closes the socket with 1009 past the body limit for a subscribe, and 4400 for a subscribe without a readable id', async () => {
    const big = await Peer.open({});
    const variables = { pad: 'x'.repeat(server.config.http.maxBodyBytes) };
    expect(await big.after(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }', variables } }))).toMatchObject({ closed: { code: 1009 } });

    // 90 000 keys of variables (under the size bound, shallow): counted before they are parsed, as an HTTP body's are.
    const many = await Peer.open({});
    const keys = Object.fromEntries(Array.from({ length: 90_000 }, (_, index) => [`k${index}`, 0]));
    const maxValues = server.config.operationLimits.maxVariableValues + 64;
    expect(await many.after(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ __typename }', variables: keys } }))).toEqual({
      closed: { code: 4400, reason: `A subscribe message may hold at most ${maxValues} JSON values` },
    });
    // Within the bound, a subscribe with variables is read as before.
    const few = await Peer.open({});
    few.send(JSON.stringify({ id: '2', type: 'subscribe', payload: { query: 'query($n: String) { datasets(nameContains: $n) { edges { node { id } } } }', variables: { n: 'x' } } }));
    expect(await few.answer('next', '2')).toMatchObject({ message: { type: 'next', id: '2' } });

    const longId = await Peer.open({});
    expect(await longId.after(JSON.stringify({ id: 'i'.repeat(300), type: 'subscribe', payload: { query: '{ __typename }' } }))).toEqual({
      closed: { code: 4400, reason: 'A subscribe message needs a string id of at most 256 characters' },
    });
  });
});

describe('the socket’s messages', () => {
  it('a binary frame must be UTF-8: not, 4400; UTF-8, read', async () => {
    const peer = await Peer.open({});
    peer.send(Buffer.from('{"type":"ping"}'), true);
    expect(await peer.answer('pong')).toEqual({ message: { type: 'pong' } });
    peer.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), true);
    expect(await peer.closed).toEqual({ code: 4400, reason: 'The message is not valid UTF-8' });
  });

  it('more than 200 at once close the socket with 1008', async () => {
    const peer = await Peer.open({});
    for (let i = 0; i < 300; i++) peer.send('{"type":"ping"}');
    expect(await peer.closed).toEqual({ code: 1008, reason: 'Too many messages: at most 200 at once, then 100 a second' });
  });

  it('ordinary subscriptions work; one past the address limit is answered RATE_LIMITED without graphql-ws reading it', async () => {
    const dataset = await createDataset(server, owner.token, { name: 'Screened' });
    const peer = await Peer.open({ authorization: `Bearer ${owner.token}` });
    peer.send(JSON.stringify({ id: 'feed', type: 'subscribe', payload: { query: 'subscription($id: ID!) { datasetChanges(datasetId: $id) { datasetId name } }', variables: { id: dataset.id } } }));
    expect(await peer.answer('next', 'feed')).toEqual({ message: { id: 'feed', type: 'next', payload: { data: { datasetChanges: { datasetId: dataset.id, name: 'Screened' } } } } });
    peer.send(JSON.stringify({ id: 'feed', type: 'complete' }));
    for (const id of ['b', 'c']) {
      peer.send(JSON.stringify({ id, type: 'subscribe', payload: { query: '{ __typename }' } }));
      expect(await peer.answer('next', id)).toEqual({ message: { id, type: 'next', payload: { data: { __typename: 'Query' } } } });
    }
    // Not JSON (one brace too many): graphql-ws would close the socket for it (4400, "Invalid
    // message received"). Past the address's three operations it is refused unread instead.
    peer.send('{"id":"d","type":"subscribe","payload":{"query":"{ __typename }"}}}');
    const refused = await peer.answer('error', 'd');
    expect(refused).toMatchObject({ message: { id: 'd', type: 'error', payload: [{ extensions: { code: 'RATE_LIMITED', reason: 'ADDRESS_RATE_LIMIT' } }] } });
    expect(await peer.after()).toEqual({ message: { type: 'pong' } });
    peer.close();
  });
});

describe('scanMessage', () => {
  it('reads the top-level type and id as JSON.parse does, without parsing', () => {
    const texts = [
      '{"type":"ping"}',
      '{ "\\u0074ype" : "sub\\u0073cribe", "id": "a\\"b" }',
      '{"type":"pong","type":"subscribe","id":"1"}',
      '{"type":"subscribe","type":{"a":1},"id":"1"}',
      '{"payload":{"type":"ping","id":"2"},"note":"\\"type\\":","type":"complete","id":"3"}',
      '{"id":7,"type":"complete","payload":["type",":","x"]}',
    ];
    for (const text of texts) {
      const parsed = JSON.parse(text);
      const read = (value: unknown) => (typeof value === 'string' ? value : undefined);
      expect({ text, scanned: scanMessage(text) }).toEqual({ text, scanned: { tooDeep: false, type: read(parsed.type), id: read(parsed.id) } });
    }
    expect(scanMessage(`{"type":"ping","p":${deep(128)}}`, 129).tooDeep).toBe(false);
    expect(scanMessage(`{"type":"ping","p":${deep(128)}}`).tooDeep).toBe(true);
  });
});
