/**
 * The SDK client against the real server: typed operations over HTTP, uploads, a subscription
 * over graphql-ws, credentials with log-in and refresh, typed errors, a RATE_LIMITED
 * answer retried after its retryAfterSeconds, and a reset connection: a query sent again, a
 * mutation not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  CreateApiKeyDocument,
  CreateDatasetDocument,
  createClient,
  IngestDocumentsDocument,
  IngestionProgressDocument,
  LogInDocument,
  QueryEndpointDocument,
  SignUpDocument,
  SluiceError,
  ViewerDocument,
  type Session,
} from '../../src/sdk/index.js';
import { findFreePort } from '../../src/db/free-port.js';
import { endpointOver } from '../support/endpoints.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
const email = `sdk-${Date.now()}@example.test`;
const password = 'a long enough passphrase';

beforeAll(async () => {
  server = await startTestServer();
  const anonymous = createClient({ url: server.url });
  const { signUp } = await anonymous.request(SignUpDocument, { input: { email, password, tenantName: 'SDK' } });
  expect(signUp.user.email).toBe(email);
});
afterAll(async () => {
  await server?.close();
});

describe('with credentials', () => {
  it('logs in when first needed, then runs typed queries and mutations', async () => {
    const client = createClient({ url: server.url, credentials: { email, password } });
    expect(client.session()).toBeUndefined();
    const { viewer } = await client.request(ViewerDocument);
    expect(viewer).toMatchObject({ kind: 'USER', email, role: 'OWNER' });
    const first = client.session()!.accessToken;
    // A skew longer than the token's life makes every request refresh the session first.
    const refreshing = createClient({ url: server.url, credentials: { email, password }, refreshSkewSeconds: 3600 });
    await refreshing.request(ViewerDocument);
    const a = refreshing.session()!;
    await refreshing.request(ViewerDocument);
    const b = refreshing.session()!;
    expect(b.refreshToken).not.toBe(a.refreshToken);
    expect(first).toEqual(expect.any(String));
  });

  it('uploads files, and follows the job over graphql-ws to COMPLETED', async () => {
    const client = createClient({ url: server.url, credentials: { email, password }, webSocketImpl: WebSocket });
    try {
      const { createDataset } = await client.request(CreateDatasetDocument, { input: { name: 'Manuals', slug: `manuals-${Date.now()}` } });
      const file = new File(['# Locks\n\nThe lock keeper opens the sluice gates.\n'], 'locks.md', { type: 'text/markdown' });
      const { ingestDocuments } = await client.request(IngestDocumentsDocument, { datasetId: createDataset.id, files: [file] });
      const stages: string[] = [];
      for await (const { ingestionProgress } of client.subscribe(IngestionProgressDocument, { jobId: ingestDocuments.id })) {
        stages.push(ingestionProgress.stage);
        if (ingestionProgress.stage === 'COMPLETED') {
          expect(ingestionProgress).toMatchObject({ documentsTotal: 1, documentsDone: 1, percent: 100 });
          break;
        }
      }
      expect(stages.at(-1)).toBe('COMPLETED');
    } finally {
      await client.close();
    }
  });

  it('raises SluiceError with the code, details and request id', async () => {
    const client = createClient({ url: server.url, credentials: { email, password } });
    const error = await client.request(CreateDatasetDocument, { input: { name: 'Bad', slug: 'NO' } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'slug' } });
    const wrong = createClient({ url: server.url, credentials: { email, password: 'not it' } });
    await expect(wrong.request(ViewerDocument)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('with an API key', () => {
  it('asks an endpoint', async () => {
    const owner = createClient({ url: server.url, credentials: { email, password } });
    const { createApiKey } = await owner.request(CreateApiKeyDocument, { input: { name: 'sdk', scopes: ['READ'] } });
    const token = owner.session()!.accessToken;
    const setup = await endpointOver(server, token, [{ title: 'Weirs', text: 'A weir holds water back across a river.' }]);
    const reader = createClient({ url: server.url, apiKey: createApiKey.secret });
    const { queryEndpoint } = await reader.request(QueryEndpointDocument, { endpoint: setup.reference, query: 'what does a weir hold' });
    expect(queryEndpoint.passages[0]?.documentTitle).toBe('Weirs');
    expect(queryEndpoint.answer).toContain('weir');
  });
});

describe('rate limits', () => {
  it('waits retryAfterSeconds and retries a RATE_LIMITED answer', async () => {
    const limited = await startTestServer({ database: server.database, env: { SLUICE_RATE_LIMITS: 'on', SLUICE_RATE_LIMIT_PER_SECOND: '1', SLUICE_RATE_LIMIT_BURST: '2' } });
    try {
      const client = createClient({ url: limited.url, credentials: { email, password } });
      const started = Date.now();
      for (let i = 0; i < 4; i += 1) expect((await client.request(ViewerDocument)).viewer.kind).toBe('USER');
      // Burst 2 at 1/s: the later requests had to wait for tokens.
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      const impatient = createClient({ url: limited.url, credentials: { email, password }, maxRateLimitRetries: 0 });
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => impatient.request(ViewerDocument)));
      expect(results.some((result) => result.status === 'rejected' && (result.reason as SluiceError).code === 'RATE_LIMITED')).toBe(true);
    } finally {
      await limited.close();
    }
  });
});

describe('with a kept session', () => {
  it('refreshes an expired session, hands the new one over, and says when it has ended', async () => {
    const { logIn } = await createClient({ url: server.url }).mutate(LogInDocument, { input: { email, password } });
    const kept: Session[] = [];
    // An access token that expired a minute ago: the first request refreshes first.
    const session = { accessToken: logIn.accessToken, refreshToken: logIn.refreshToken, expiresAt: Date.now() - 60_000 };
    const client = createClient({ url: server.url, session, onSession: (next) => kept.push(next) });
    expect((await client.query(ViewerDocument)).viewer.email).toBe(email);
    expect(kept).toHaveLength(1);
    expect(kept[0]!.refreshToken).not.toBe(logIn.refreshToken);
    expect(kept[0]!.expiresAt).toBeGreaterThan(Date.now());

    // Refresh tokens are single-use: a client still holding the old one cannot go on.
    const stale = createClient({ url: server.url, session });
    const error = await stale.query(ViewerDocument).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('sends a query once more when its connection is reset before any answer, never a mutation', async () => {
    const target = { host: '127.0.0.1', port: Number(new URL(server.url).port) };
    const forLogIn = await startTcpProxy(target, { resetFirst: 1 });
    const forQuery = await startTcpProxy(target, { resetFirst: 1 });
    try {
      const client = createClient({ url: forLogIn.through(server.url), credentials: { email, password } });
      // The log-in (a mutation) is refused by the reset, and not sent again: nothing reached the server.
      const error = await client.query(ViewerDocument).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'NETWORK_ERROR', message: expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/) });
      expect(forLogIn.counts).toEqual({ reset: 1, passed: 0 });
      // With a session kept from elsewhere, the query itself meets the reset, and goes again, once.
      const signedIn = createClient({ url: server.url, credentials: { email, password } });
      await signedIn.query(ViewerDocument);
      const kept = createClient({ url: forQuery.through(server.url), session: signedIn.session()! });
      const { viewer } = await kept.query(ViewerDocument);
      expect(viewer.email).toBe(email);
      expect(forQuery.counts).toEqual({ reset: 1, passed: 1 });
    } finally {
      await forLogIn.close();
      await forQuery.close();
    }
  });

  it('reports an unreachable server as NETWORK_ERROR', async () => {
    // A port just free: nothing listens (port 9 would be refused by fetch itself, unsent).
    const url = `http://127.0.0.1:${await findFreePort()}/graphql`;
    const error = await createClient({ url }).query(ViewerDocument).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'NETWORK_ERROR', message: `Cannot reach ${url}: ECONNREFUSED` });
    // A subscription over graphql-ws fails the same way, not with the socket's raw event.
    const subscription = createClient({ url, webSocketImpl: WebSocket }).subscribe(IngestionProgressDocument, { jobId: 'none' });
    expect(await subscription.next().catch((caught: unknown) => caught)).toMatchObject({ code: 'NETWORK_ERROR', message: expect.stringContaining(`Cannot reach ${url}`) });
  });
});
