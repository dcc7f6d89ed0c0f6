/**
 * The tenants sign-up makes per client address (SLUICE_SIGNUP_LIMIT_PER_IP). Each tenant is a
 * share of the process's answer places, and one address signed up four in a row, enough to hold
 * them all (attacker review, December): the attempt limits (30 per 15 minutes) were sized for
 * typing mistakes, not for tenants. Counted when a sign-up would make its tenant, so a refused
 * form costs nothing of it. It stays on with the request limits off (SLUICE_RATE_LIMITS=off):
 * the answer reserve counts on it, and it once went with them. Real server and PostgreSQL,
 * addresses set through a trusted proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { codeOf, uniqueEmail } from '../support/identity.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp } from './support.js';

const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken tenant { slug } } }';
const PASSWORD = 'a long enough passphrase';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { SLUICE_RATE_LIMITS: 'on', SLUICE_TRUST_PROXY: '1', SLUICE_SIGNUP_LIMIT_PER_IP: '2/1h' } });
});
afterAll(() => server?.close());

const signUp = (ip: string, input: { email?: string; password?: string } = {}, on = server) =>
  on.graphql(SIGN_UP, { headers: fromIp(ip), variables: { input: { email: input.email ?? uniqueEmail('signup'), password: input.password ?? PASSWORD, tenantName: 'Free tenant' } } });

/** The outcomes of the sign-ups from `ip` on the audit trail, once there are `count`. */
const signUpOutcomes = (ip: string, count: number) =>
  pollUntil(
    () =>
      withClient(server.database.ownerUrl, (client) =>
        client.query<{ outcome: string }>(`select outcome from audit_events where personal->>'ip' = $1 and action = 'graphql.mutation'`, [ip]),
      ).then(({ rows }) => rows.map((row) => row.outcome).sort()),
    (outcomes) => outcomes.length >= count,
    { failure: (outcomes) => `expected ${count} sign-ups from ${ip} on the audit trail, found ${JSON.stringify(outcomes)}` },
  );

describe('sign-up per client address', () => {
  it('makes a few tenants per address, then refuses with RATE_LIMITED and a retry time; another address still signs up', async () => {
    const ip = freshIp();
    // The limit's clock starts somewhere inside the first sign-up: measured from before it is sent.
    const startedAt = performance.now();
    const first = await signUp(ip);
    expect(first.body.data.signUp.accessToken).toEqual(expect.any(String));
    // Refused forms make no tenant and cost nothing of the limit: a taken email, a short password.
    const email = uniqueEmail('taken');
    expect((await signUp(freshIp(), { email })).body.data.signUp).toBeTruthy();
    expect(codeOf((await signUp(ip, { email })).body)).toBe('CONFLICT');
    expect(codeOf((await signUp(ip, { password: 'short' })).body)).toBe('BAD_USER_INPUT');
    expect((await signUp(ip)).body.data.signUp.accessToken).toEqual(expect.any(String));

    const refusedEmail = uniqueEmail('third');
    const third = await signUp(ip, { email: refusedEmail });
    const elapsedSeconds = (performance.now() - startedAt) / 1000;
    expect(third.status).toBe(429);
    const { extensions, message } = third.body.errors[0];
    expect(extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'SIGN_UP_LIMIT' });
    // 2 an hour: the next one 30 minutes after the first, less the time since the first, which
    // is at most the time measured around the requests (however slow the machine is).
    expect(extensions.retryAfterSeconds).toBeGreaterThanOrEqual(Math.floor(1800 - elapsedSeconds));
    expect(extensions.retryAfterSeconds).toBeLessThanOrEqual(1800);
    expect(third.headers.get('retry-after')).toBe(String(extensions.retryAfterSeconds));
    expect(message).toBe(`Too many tenants signed up from your address: retry in ${extensions.retryAfterSeconds} s`);
    // Nothing was made for it.
    const accounts = await withClient(server.database.ownerUrl, (client) => client.query('select 1 from users where email = $1', [refusedEmail]));
    expect(accounts.rowCount).toBe(0);

    // Another address signs up as before.
    expect((await signUp(freshIp())).body.data.signUp.accessToken).toEqual(expect.any(String));
    // On the audit trail like the other attempt limits' refusals.
    expect(await signUpOutcomes(ip, 5)).toEqual(['BAD_USER_INPUT', 'CONFLICT', 'RATE_LIMITED', 'ok', 'ok']);
  });

  it('counts an IPv6 /64 as one address, as the other address limits do', async () => {
    for (const host of ['1', '2']) expect((await signUp(`2001:db8:5:7::${host}`)).body.data.signUp).toBeTruthy();
    expect(codeOf((await signUp('2001:db8:5:7::3')).body)).toBe('RATE_LIMITED');
    expect((await signUp('2001:db8:5:8::1')).body.data.signUp).toBeTruthy();
  });

  it('reads an IPv4 client its proxy wrote as IPv6, in any case or spelling, as that IPv4 address', async () => {
    // Before, only a lower-case "::ffff:" was unwrapped: these three clients shared one IPv6 /64
    // and the third was refused.
    for (const ip of [freshIp(), freshIp(), freshIp()]) expect((await signUp(`::FFFF:${ip}`)).body.data.signUp).toBeTruthy();
    // One client, three spellings: one address, refused at the third.
    const ip = freshIp();
    const hex = ip.split('.').map((part) => Number(part).toString(16).padStart(2, '0'));
    expect((await signUp(`0:0:0:0:0:FFFF:${ip}`)).body.data.signUp).toBeTruthy();
    expect((await signUp(ip)).body.data.signUp).toBeTruthy();
    expect(codeOf((await signUp(`::ffff:${hex[0]}${hex[1]}:${hex[2]}${hex[3]}`)).body)).toBe('RATE_LIMITED');
  });
});

describe('sign-up per client address with the request limits off', () => {
  let unlimited: TestServer;
  beforeAll(async () => {
    unlimited = await startTestServer({ env: { SLUICE_RATE_LIMITS: 'off', SLUICE_TRUST_PROXY: '1', SLUICE_SIGNUP_LIMIT_PER_IP: '2/1h' } });
  });
  afterAll(() => unlimited?.close());

  it('still refuses the third tenant from one address (before, every sign-up made its tenant)', async () => {
    const ip = freshIp();
    for (let i = 0; i < 2; i++) expect((await signUp(ip, {}, unlimited)).body.data.signUp.accessToken).toEqual(expect.any(String));
    const third = await signUp(ip, {}, unlimited);
    expect(third.status).toBe(429);
    expect(third.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'SIGN_UP_LIMIT' });
    expect((await signUp(freshIp(), {}, unlimited)).body.data.signUp.accessToken).toEqual(expect.any(String));
  });
});
