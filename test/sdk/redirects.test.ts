/**
 * The SDK does not follow redirects: fetch, by default, sends a POST again, body and all, to a
 * 307/308's Location, whatever its host or scheme, so a URL that redirected handed the
 * password of a log-in, or a session's single-use refresh token, to the address it named.
 * A redirector and a sink (real HTTP servers, test/support/redirect.ts) stand for that URL and
 * that address; the credentials are real ones from the real server. Each way the SDK sends a
 * request (a mutation, a query logging in or refreshing first, an SSE subscription, the
 * WebSocket) must fail naming the redirect, and the sink must receive nothing.
 */
import { afterEach, beforeAll, afterAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, IngestionProgressDocument, LogInDocument, SluiceError, ViewerDocument } from '../../src/sdk/index.js';
import { refresh, signUp, type SignedUp } from '../support/identity.js';
import { startRedirector, type Redirector } from '../support/redirect.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
let redirector: Redirector | undefined;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
  owner = await signUp(server);
});
afterEach(() => redirector?.close());
afterAll(() => server?.close());

/** What `work` threw (undefined if it did not). */
function failure(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
}

/** Nothing reached the sink; the refusal is a NETWORK_ERROR naming the status and where it pointed. */
function expectRefused(thrown: unknown, { url, sinkUrl, received }: Redirector, status = 307): SluiceError {
  expect(received).toEqual([]);
  expect(thrown).toBeInstanceOf(SluiceError);
  const error = thrown as SluiceError;
  expect({ code: error.code, details: error.details }).toEqual({ code: 'NETWORK_ERROR', details: { reason: 'REDIRECT', status, location: sinkUrl } });
  expect(error.message).toBe(
    `${url} answered ${status}, redirecting to ${sinkUrl}: redirects are not followed, since the request would go again with its body (passwords, tokens) to that address; use the final URL instead`,
  );
  return error;
}

it.each([307, 308])('refuses a log-in that answers %i, and the password goes nowhere', async (status) => {
  redirector = await startRedirector(status);
  const sluice = createClient({ url: redirector.url });
  const error = expectRefused(await failure(() => sluice.mutate(LogInDocument, { input: { email: owner.email, password: owner.password } })), redirector, status);
  expect(error.requestId).toMatch(/^[0-9a-f]{32}$/);
});

it('refuses the log-in a client with credentials makes before its first query', async () => {
  redirector = await startRedirector();
  const sluice = createClient({ url: redirector.url, credentials: { email: owner.email, password: owner.password } });
  expectRefused(await failure(() => sluice.query(ViewerDocument)), redirector);
});

it('refuses the refresh of a kept session, and the refresh token stays unspent', async () => {
  const { body } = await refresh(server, owner.refreshToken);
  const { accessToken, refreshToken } = body.data.refreshSession;
  redirector = await startRedirector();
  // Expired: the client refreshes before the query.
  const sluice = createClient({ url: redirector.url, session: { accessToken, refreshToken, expiresAt: 0 } });
  expectRefused(await failure(() => sluice.query(ViewerDocument)), redirector);
  const spent = await refresh(server, refreshToken);
  expect(spent.body.data?.refreshSession.accessToken).toEqual(expect.any(String));
});

it('refuses a subscription over Server-Sent Events', async () => {
  redirector = await startRedirector();
  const sluice = createClient({ url: redirector.url, token: owner.accessToken, subscriptionTransport: 'sse' });
  const jobId = Buffer.from('IngestionJob:00000000-0000-4000-8000-000000000000').toString('base64');
  expectRefused(
    await failure(async () => {
      for await (const _ of sluice.subscribe(IngestionProgressDocument, { jobId })) break;
    }),
    redirector,
  );
});

// graphql-ws opens `new WebSocketImpl(url, 'graphql-transport-ws')`: with `ws` (followRedirects
// false by default) a redirected upgrade fails, and the token only goes after the socket opens.
it('does not follow a redirect when opening a WebSocket (the `ws` package, as graphql-ws opens it)', async () => {
  redirector = await startRedirector();
  const socket = new WebSocket(redirector.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const error = await new Promise<Error>((resolve) => socket.on('error', resolve));
  expect(error.message).toBe('Unexpected server response: 307');
  expect(redirector.received).toEqual([]);
});
