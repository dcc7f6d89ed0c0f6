/**
 * Refused credentials leave a trace (issue 17, item 6): each kind of refusal is one event in
 * the right trail (the tenant's when the credential names one of its keys, sessions or users,
 * else the platform's), floods are bounded with a count of what was suppressed, and no stored
 * event holds a presented secret.
 *
 * The flood limit here is 5 per trail and address (50 per trail) every 2 s, and the buckets'
 * clock stands still, so counts are exact however slow the machine: only the summary's timer
 * is real.
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { PLATFORM_CHAIN } from '../../src/domains/audit/audit-log.js';
import { auditEventsOf } from '../support/audit.js';
import { addMember, codeOf, createApiKey, logIn, refresh, signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp, ManualClock } from '../limits/support.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
/** Every secret presented in this file: none may be stored. */
const presented: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ clock: new ManualClock(), env: { SLUICE_TRUST_PROXY: '1', SLUICE_AUTH_FAILURE_AUDIT_LIMIT: '5/2s' } });
});
afterAll(() => server?.close());

const VIEWER = '{ viewer { kind } }';
const randomKey = () => `slk_${randomBytes(32).toString('base64url')}`;
/** Another secret with the same shown prefix as `secret`: a wrong secret for that key. */
const wrongSecretFor = (secret: string) => `${secret.slice(0, 12)}${randomBytes(32).toString('base64url').slice(0, 35)}`;

function present(headers: Record<string, string>, ip: string, query = VIEWER, variables?: Record<string, unknown>) {
  for (const value of Object.values(headers)) presented.push(value.replace(/^Bearer /, ''));
  return server.graphql(query, { headers: { ...headers, ...fromIp(ip) }, variables });
}

/** Polls until `read` gives at least `atLeast` rows (the audit writer is asynchronous). */
async function until<T>(read: () => Promise<T[]>, atLeast: number, timeoutMs = 30_000): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await read();
    if (rows.length >= atLeast || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const ownerSql = <T = Record<string, any>>(sql: string, params: unknown[] = []) =>
  withClient(server.database.ownerUrl, (client) => client.query(sql, params)).then((result) => result.rows as T[]);

/** The platform trail's refusals from `ip`. */
const platformFrom = (ip: string, atLeast = 1) =>
  until(
    () =>
      ownerSql(
        `select action, outcome, actor_kind as "actorKind", actor_id as "actorId", payload->'details' as details from audit_events
          where tenant_id = $1 and personal->>'ip' = $2 and action like 'auth.%' order by seq`,
        [PLATFORM_CHAIN, ip],
      ),
    atLeast,
  );

/** The tenant's refusals, read by its OWNER through the audit query. */
const tenantRefusals = (token: string, atLeast = 1, timeoutMs = 30_000) =>
  auditEventsOf(server, token, atLeast, { action: 'auth.*' }, timeoutMs).then((events) =>
    events.filter((event) => event.action !== 'auth.login') as { action: string; details: Record<string, any>; [field: string]: any }[],
  );


describe('API keys', () => {
  let owner: SignedUp;
  beforeAll(async () => {
    owner = await signUp(server, { tenantName: 'Keys' });
  });

  it("records a wrong secret for one of a tenant's keys in that tenant's trail, naming the key, not the secret", async () => {
    const key = (await createApiKey(server, owner.accessToken, { name: 'target', scopes: ['READ'] })).body.data.createApiKey;
    const ip = freshIp();
    const wrong = wrongSecretFor(key.secret);
    expect((await present({ 'x-api-key': wrong }, ip)).status).toBe(401);
    const events = await tenantRefusals(owner.accessToken);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      action: 'auth.credential_refused',
      outcome: 'UNAUTHENTICATED',
      actorKind: 'apiKey',
      actorId: databaseIdOf(key.apiKey.id),
      ip,
      details: { credential: 'apiKey', reason: 'wrong-secret', keyPrefix: key.apiKey.prefix },
    });
    expect(await platformFrom(ip, 0)).toEqual([]);
  });

  it("records revoked and expired keys in the tenant's trail", async () => {
    const tenant = await signUp(server, { tenantName: 'Old keys' });
    const revoked = (await createApiKey(server, tenant.accessToken, { name: 'revoked', scopes: ['READ'] })).body.data.createApiKey;
    await server.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { token: tenant.accessToken, variables: { id: revoked.apiKey.id } });
    const expired = (await createApiKey(server, tenant.accessToken, { name: 'expired', scopes: ['READ'] })).body.data.createApiKey;
    await ownerSql(`update api_keys set expires_at = now() - interval '1 minute' where id = $1`, [databaseIdOf(expired.apiKey.id)]);
    const ip = freshIp();
    expect((await present({ authorization: `Bearer ${revoked.secret}` }, ip)).status).toBe(401);
    expect((await present({ 'x-api-key': expired.secret }, ip)).status).toBe(401);
    const events = await tenantRefusals(tenant.accessToken, 2);
    expect(events.map((event) => [event.actorId, event.details.reason])).toEqual([
      [databaseIdOf(revoked.apiKey.id), 'revoked'],
      [databaseIdOf(expired.apiKey.id), 'expired'],
    ]);
  });

  it("records a key no tenant has in the platform's trail", async () => {
    const ip = freshIp();
    const unknown = randomKey();
    expect((await present({ 'x-api-key': unknown }, ip)).status).toBe(401);
    expect((await present({ 'x-api-key': 'slk_short' }, ip)).status).toBe(401);
    const events = await platformFrom(ip, 2);
    expect(events.map((event) => [event.action, event.actorKind, event.details])).toEqual([
      ['auth.credential_refused', 'anonymous', { credential: 'apiKey', reason: 'unknown', keyPrefix: unknown.slice(0, 12) }],
      ['auth.credential_refused', 'anonymous', { credential: 'apiKey', reason: 'malformed', keyPrefix: null }],
    ]);
  });
});

describe('bearer tokens', () => {
  it("records an expired token of ours in its tenant's trail, and an ended session", async () => {
    const account = await signUp(server, { tenantName: 'Tokens' });
    const claims = decodeJwt(account.accessToken) as Record<string, string>;
    const { token: expired } = await server.tokens.sign(
      { userId: claims.sub!, email: account.email, tenantId: claims.tid!, tenantSlug: account.tenant.slug, role: 'OWNER', sessionId: claims.sid! },
      new Date(Date.now() - 3_600_000),
    );
    const ip = freshIp();
    expect((await present({ authorization: `Bearer ${expired}` }, ip)).status).toBe(401);
    const ended = await signUp(server, { tenantName: 'Ended' });
    await server.graphql('mutation { logOut }', { token: ended.accessToken });
    expect((await present({ authorization: `Bearer ${ended.accessToken}` }, ip)).status).toBe(401);

    const [event] = await tenantRefusals(account.accessToken);
    expect(event).toMatchObject({ actorKind: 'user', actorId: claims.sub, details: { credential: 'accessToken', reason: 'expired', sessionId: claims.sid } });
    const again = (await logIn(server, { email: ended.email, password: ended.password })).body.data.logIn.accessToken;
    const endedEvents = await tenantRefusals(again);
    expect(endedEvents).toHaveLength(1);
    expect(endedEvents[0]).toMatchObject({ actorId: decodeJwt(ended.accessToken).sub, details: { credential: 'accessToken', reason: 'session' } });
  });

  it("records tokens that prove nothing in the platform's trail, whatever tenant they claim", async () => {
    const victim = await signUp(server, { tenantName: 'Claimed' });
    const [header, , signature] = victim.accessToken.split('.');
    const forgedClaims = Buffer.from(JSON.stringify({ ...decodeJwt(victim.accessToken), email: 'evil@example.test' })).toString('base64url');
    const foreign = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer.invalid').setSubject('x').setExpirationTime('1h').sign(randomBytes(32));
    const ip = freshIp();
    for (const authorization of [`Bearer ${header}.${forgedClaims}.${signature}`, 'Bearer not-a-token', `Bearer ${foreign}`, 'Basic dXNlcjpwYXNz']) {
      expect((await present({ authorization }, ip)).status).toBe(401);
    }
    const events = await platformFrom(ip, 4);
    expect(events.map((event) => event.details)).toEqual([
      { credential: 'accessToken', reason: 'invalid' },
      { credential: 'accessToken', reason: 'invalid' },
      { credential: 'externalToken', reason: expect.any(String), issuer: 'https://issuer.invalid' },
      { credential: 'authorization', reason: 'malformed' },
    ]);
    expect(await tenantRefusals(victim.accessToken, 0)).toEqual([]);
  });
});

describe('refresh tokens', () => {
  it("records reuse as auth.refresh_reuse in each of the user's tenants, and unknown tokens in the platform's trail", async () => {
    const account = await signUp(server, { tenantName: 'Home' });
    const other = await signUp(server, { tenantName: 'Elsewhere' });
    await addMember(server, other.accessToken, 'VIEWER', account.email);
    const ip = freshIp();
    const refreshAs = (token: string) => {
      presented.push(token);
      // The variable is named for what it holds, so the operation's own audit event redacts it.
      return server.graphql('mutation($refreshToken: String!) { refreshSession(refreshToken: $refreshToken) { accessToken } }', {
        headers: fromIp(ip),
        variables: { refreshToken: token },
      });
    };
    expect((await refreshAs(account.refreshToken)).body.data.refreshSession.accessToken).toBeTruthy();
    expect(codeOf((await refreshAs(account.refreshToken)).body)).toBe('UNAUTHENTICATED');
    const unknown = `slr_${randomBytes(32).toString('base64url')}`;
    expect(codeOf((await refreshAs(unknown)).body)).toBe('UNAUTHENTICATED');

    const userId = decodeJwt(account.accessToken).sub;
    const sessionId = decodeJwt(account.accessToken).sid;
    const home = (await logIn(server, { email: account.email, password: account.password })).body.data.logIn.accessToken;
    for (const token of [home, other.accessToken]) {
      const events = await tenantRefusals(token);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ action: 'auth.refresh_reuse', actorKind: 'user', actorId: userId, ip, details: { credential: 'refreshToken', reason: 'reuse', sessionId } });
    }
    const platform = await platformFrom(ip);
    expect(platform.map((event) => event.details)).toEqual([{ credential: 'refreshToken', reason: 'unknown' }]);
  });
});

describe('floods', () => {
  /** `count` requests, 20 at a time. */
  async function flood(count: number, send: (i: number) => Promise<unknown>) {
    for (let i = 0; i < count; i += 20) await Promise.all(Array.from({ length: Math.min(20, count - i) }, (_, j) => send(i + j)));
  }
  const suppressedIn = (events: { action: string; details: Record<string, any> }[]) =>
    events.filter((event) => event.action === 'auth.refusals_suppressed').reduce((sum, event) => sum + event.details.suppressed, 0);

  it('keeps 200 bad keys from one address to 5 events, and records that 195 were suppressed', async () => {
    const ip = freshIp();
    await flood(200, () => present({ 'x-api-key': randomKey() }, ip));
    const recorded = await platformFrom(ip, 5);
    expect(recorded).toHaveLength(5);
    // The summary names no address: it is the platform trail's, written when the period ends.
    const summaries = () =>
      ownerSql<{ action: string; details: Record<string, any> }>(
        `select action, payload->'details' as details from audit_events where tenant_id = $1 and action = 'auth.refusals_suppressed' order by seq`,
        [PLATFORM_CHAIN],
      );
    const deadline = Date.now() + 60_000;
    while (suppressedIn(await summaries()) < 195 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    const written = await summaries();
    expect(suppressedIn(written)).toBe(195);
    expect(written[0]!.details).toMatchObject({ kinds: { 'auth.credential_refused:apiKey:unknown': expect.any(Number) }, sources: 1, limit: { perSource: 5, perTrail: 50, periodSeconds: 2 } });
  });

  it("keeps 200 wrong secrets from 200 addresses to the trail's 50, and the tenant's ADMINs see that 150 were suppressed", async () => {
    const tenant = await signUp(server, { tenantName: 'Flooded' });
    const key = (await createApiKey(server, tenant.accessToken, { name: 'target', scopes: ['READ'] })).body.data.createApiKey;
    await flood(200, () => present({ 'x-api-key': wrongSecretFor(key.secret) }, freshIp()));
    const deadline = Date.now() + 60_000;
    let events = await tenantRefusals(tenant.accessToken, 50);
    while (suppressedIn(events) < 150 && Date.now() < deadline) events = await tenantRefusals(tenant.accessToken, events.length + 1, 1_000);
    expect(events.filter((event) => event.action === 'auth.credential_refused')).toHaveLength(50);
    expect(suppressedIn(events)).toBe(150);
  });
});

describe('what is stored', () => {
  it('holds no presented secret in any event, payload or personal data', async () => {
    expect(presented.length).toBeGreaterThan(400);
    const rows = await ownerSql<{ text: string }>(`select payload::text || personal::text as text from audit_events`);
    const stored = rows.map((row) => row.text).join('\n');
    for (const secret of presented) expect(stored.includes(secret), secret.slice(0, 16)).toBe(false);
  });
});
