/**
 * Brute-force limits on the fields worth guessing at: logIn and signUp per client address, per
 * email from one address and per email from all addresses (except, for logIn, where the account
 * signed in before), over GraphQL and the REST login alike (one allowance for both doors), and
 * createApiKey per principal. Limits are small and refill slowly, so nothing refills mid-test.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { signInAddressDigest } from '../../src/domains/identity/sign-in-addresses.js';
import { TEST_MASTER_KEY } from '../support/config.js';
import { codeOf, uniqueEmail } from '../support/identity.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp } from './support.js';

const LOG_IN = 'mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }';
const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }';
const PASSWORD = 'the right passphrase';

const LIMITS = {
  SLUICE_RATE_LIMITS: 'on',
  SLUICE_TRUST_PROXY: '1',
  SLUICE_AUTH_LIMIT_PER_IP: '4/1h',
  SLUICE_AUTH_LIMIT_PER_EMAIL: '5/1h',
  SLUICE_AUTH_LIMIT_PER_EMAIL_AND_IP: '3/1h',
  SLUICE_API_KEY_CREATE_LIMIT: '2/1h',
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: LIMITS });
});
afterAll(() => server?.close());

/** A new account signed up from an address of its own (`home`), its email and access token. */
async function account(email = uniqueEmail('brute')): Promise<{ email: string; token: string; home: string }> {
  const home = freshIp();
  const { body } = await server.graphql(SIGN_UP, { headers: fromIp(home), variables: { input: { email, password: PASSWORD, tenantName: 'Brute' } } });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return { email, token: body.data.signUp.accessToken, home };
}

const logIn = (email: string, password: string, ip: string, target: TestServer = server) =>
  target.graphql(LOG_IN, { headers: fromIp(ip), variables: { input: { email, password } } });

function restLogIn(email: string, password: string, ip: string) {
  return fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...fromIp(ip) },
    body: JSON.stringify({ email, password }),
  });
}

describe('deleteMyAccount', () => {
  it('counts each password check as a sign-in attempt: a stolen access token guesses no faster than logIn', async () => {
    const { email, token } = await account();
    const attacker = freshIp();
    const deleteWith = (password: string) => server.graphql('mutation($p: String!) { deleteMyAccount(password: $p) }', { token, headers: fromIp(attacker), variables: { p: password } });
    for (let i = 0; i < 3; i++) expect(codeOf((await deleteWith(`guess number ${i}`)).body)).toBe('UNAUTHENTICATED');
    // The same buckets as logIn: 3 per email from one address, then refused, right password or not.
    const right = await deleteWith(PASSWORD);
    expect(right.status).toBe(429);
    expect(right.body.errors[0].message).toMatch(/^Too many sign-in attempts for this email address from your address: retry in \d+ s$/);
    expect(codeOf((await logIn(email, PASSWORD, attacker)).body)).toBe('RATE_LIMITED');
    // Nothing was erased: the account signs in from elsewhere.
    expect((await logIn(email, PASSWORD, freshIp())).body.data.logIn.accessToken).toEqual(expect.any(String));
  });
});

describe('logIn', () => {
  it('blocks guessing one email from many addresses, then the right password from a new address too, over GraphQL and REST', async () => {
    const { email } = await account();
    for (let i = 0; i < 5; i++) {
      const wrong = await logIn(email, `guess number ${i}`, freshIp());
      expect(codeOf(wrong.body)).toBe('UNAUTHENTICATED');
    }
    const right = await logIn(email.toUpperCase(), PASSWORD, freshIp());
    expect(right.status).toBe(429);
    // 5 an hour: the next attempt is 12 minutes after the last one, less the time the bucket
    // refilled since (seconds on a busy machine), never more.
    const retryAfter = Number(right.headers.get('retry-after'));
    expect(retryAfter).toBeLessThanOrEqual(720);
    expect(retryAfter).toBeGreaterThan(720 - 60);
    expect(right.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: retryAfter });
    expect(right.body.errors[0].message).toBe(`Too many sign-in attempts for this email address: retry in ${retryAfter} s`);
    expect(right.body.data ?? null).toBeNull();

    const rest = await restLogIn(` ${email} `, PASSWORD, freshIp());
    expect(rest.status).toBe(429);
    const restRetryAfter = Number(rest.headers.get('retry-after'));
    expect(restRetryAfter).toBeLessThanOrEqual(retryAfter);
    expect(restRetryAfter).toBeGreaterThan(720 - 60);
    expect(await rest.json()).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: restRetryAfter, error: 'invalid_request' });
  });

  it('blocks one address trying many emails, whichever door it uses', async () => {
    const ip = freshIp();
    for (let i = 0; i < 2; i++) expect(codeOf((await logIn(uniqueEmail('spray'), 'guess guess guess', ip)).body)).toBe('UNAUTHENTICATED');
    for (let i = 0; i < 2; i++) expect((await restLogIn(uniqueEmail('spray'), 'guess guess guess', ip)).status).toBe(401);
    const graphql = await logIn(uniqueEmail('spray'), 'guess guess guess', ip);
    expect([graphql.status, codeOf(graphql.body)]).toEqual([429, 'RATE_LIMITED']);
    expect(graphql.body.errors[0].message).toMatch(/^Too many sign-in attempts from your address/);
    const rest = await restLogIn(uniqueEmail('spray'), 'guess guess guess', ip);
    expect(rest.status).toBe(429);
    // A real user elsewhere still signs in.
    const { email } = await account();
    const fine = await logIn(email, PASSWORD, freshIp());
    expect(fine.body.errors).toBeUndefined();
    expect(fine.body.data.logIn.accessToken).toEqual(expect.any(String));
  });

  it('counts every aliased or fragment-wrapped logIn, and refuses the whole operation', async () => {
    const { email } = await account();
    const threeInOne = `mutation($e: String!, $p: String!) {
      a: logIn(input: { email: $e, password: $p }) { accessToken }
      ...More
    }
    fragment More on Mutation {
      b: logIn(input: { email: $e, password: $p }) { accessToken }
      ... on Mutation { c: logIn(input: { email: $e, password: $p }) { accessToken } }
    }`;
    const ip = freshIp();
    const first = await server.graphql(threeInOne, { headers: fromIp(ip), variables: { e: email, p: PASSWORD } });
    expect(first.body.errors).toBeUndefined();
    expect(Object.keys(first.body.data).sort()).toEqual(['a', 'b', 'c']);
    // Those were three attempts, the allowance for this email from this address: a fourth, however sent, is refused.
    const fourth = await logIn(email, PASSWORD, ip);
    expect([fourth.status, codeOf(fourth.body)]).toEqual([429, 'RATE_LIMITED']);
    const again = await server.graphql(threeInOne, { headers: fromIp(ip), variables: { e: email, p: PASSWORD } });
    expect(again.status).toBe(429);
    expect(again.body.data ?? null).toBeNull();
    expect(again.body.errors.map((error: any) => error.extensions.code)).toEqual(['RATE_LIMITED']);
  });
});

describe('logIn, where guessing must not lock the owner out', () => {
  /** Guesses from new addresses until the limit per email (5, all addresses) refuses; then the right password from a new address is refused too. */
  const lockedOut = async (email: string, target: TestServer = server) => {
    const codes: string[] = [];
    while (codes.at(-1) !== 'RATE_LIMITED' && codes.length < 6) codes.push(codeOf((await logIn(email, `guess number ${codes.length}`, freshIp(), target)).body));
    expect(codes.at(-1)).toBe('RATE_LIMITED');
    expect(new Set(codes.slice(0, -1))).toEqual(new Set(['UNAUTHENTICATED']));
    expect((await logIn(email, PASSWORD, freshIp(), target)).status).toBe(429);
  };

  it('refuses one address guessing one email, not the owner at another address', async () => {
    const { email } = await account();
    const guesser = freshIp();
    for (let i = 0; i < 3; i++) expect(codeOf((await logIn(email, `guess number ${i}`, guesser)).body)).toBe('UNAUTHENTICATED');
    const refused = await logIn(email, PASSWORD, guesser);
    expect([refused.status, refused.body.errors[0].message]).toEqual([429, expect.stringMatching(/^Too many sign-in attempts for this email address from your address: retry in \d+ s$/)]);
    expect((await restLogIn(email, PASSWORD, guesser)).status).toBe(429);
    const owner = await logIn(email, PASSWORD, freshIp());
    expect(owner.body.errors).toBeUndefined();
    expect(owner.body.data.logIn.accessToken).toEqual(expect.any(String));
  });

  it('lets the owner in from an address they signed up or signed in from, through either door, while other addresses wait', async () => {
    const { email, home } = await account();
    const office = freshIp();
    expect((await restLogIn(email, PASSWORD, office)).status).toBe(200);
    await lockedOut(email);
    for (const ip of [home, office]) {
      const graphql = await logIn(email, PASSWORD, ip);
      expect(graphql.body.errors).toBeUndefined();
      expect(graphql.body.data.logIn.accessToken).toEqual(expect.any(String));
    }
    const rest = await restLogIn(email, PASSWORD, home);
    expect(rest.status).toBe(200);
    expect(await rest.json()).toMatchObject({ token_type: 'bearer', access_token: expect.any(String) });
    // A guesser at a known address is still held by the limit per email from one address (3).
    expect(codeOf((await logIn(email, 'a guess from home', home)).body)).toBe('UNAUTHENTICATED');
    expect((await logIn(email, PASSWORD, home)).status).toBe(429);
  });

  it('keeps addresses as keyed digests, and forgets them after 90 days', async () => {
    const { email, home } = await account();
    const rows = await withClient(server.database.ownerUrl, async (client) =>
      (
        await client.query(`select a.address_digest from sign_in_addresses a join users u on u.id = a.user_id where u.email = $1`, [email])
      ).rows,
    );
    expect(rows).toEqual([{ address_digest: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    // The HMAC under the server's master key: not the plain hash, which anyone could recompute.
    expect(rows[0].address_digest).toBe(signInAddressDigest(secretsOf(server), home));
    expect(rows[0].address_digest).not.toBe(createHash('sha256').update(home).digest('hex'));
    await withClient(server.database.ownerUrl, (client) =>
      client.query(`update sign_in_addresses a set last_signed_in_at = now() - interval '91 days' from users u where u.id = a.user_id and u.email = $1`, [email]),
    );
    await lockedOut(email);
    expect((await logIn(email, PASSWORD, home)).status).toBe(429);
  });

  it('still knows, after the master key is rotated, the addresses kept under the previous key', async () => {
    const { email, home } = await account();
    const rotated = await startTestServer({
      database: server.database,
      env: { ...LIMITS, SLUICE_MASTER_KEY: randomBytes(32).toString('base64'), SLUICE_MASTER_KEY_PREVIOUS: TEST_MASTER_KEY },
    });
    try {
      await lockedOut(email, rotated);
      const known = await logIn(email, PASSWORD, home, rotated);
      expect(known.body.errors).toBeUndefined();
      expect(known.body.data.logIn.accessToken).toEqual(expect.any(String));
    } finally {
      await rotated.close();
    }
  });
});

describe('signUp', () => {
  it('is limited per email and per address', async () => {
    const email = uniqueEmail('twice');
    const codes = [];
    for (let i = 0; i < 6; i++) {
      const { body } = await server.graphql(SIGN_UP, { headers: fromIp(freshIp()), variables: { input: { email, password: PASSWORD, tenantName: 'Dup' } } });
      codes.push(codeOf(body) ?? 'OK');
    }
    expect(codes).toEqual(['OK', 'CONFLICT', 'CONFLICT', 'CONFLICT', 'CONFLICT', 'RATE_LIMITED']);

    const ip = freshIp();
    const fromOneAddress = [];
    for (let i = 0; i < 5; i++) {
      const response = await server.graphql(SIGN_UP, { headers: fromIp(ip), variables: { input: { email: uniqueEmail('farm'), password: PASSWORD, tenantName: 'Farm' } } });
      fromOneAddress.push(response.status);
    }
    expect(fromOneAddress).toEqual([200, 200, 200, 200, 429]);
  });
});

describe('createApiKey', () => {
  it('is limited per principal', async () => {
    const first = await account();
    const second = await account();
    const create = (token: string) =>
      server.graphql('mutation { createApiKey(input: { name: "k", scopes: [READ] }) { apiKey { name } } }', { token, headers: fromIp(freshIp()) });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await create(first.token));
    expect(results.map((result) => result.body.data?.createApiKey?.apiKey?.name ?? codeOf(result.body))).toEqual(['k', 'k', 'RATE_LIMITED']);
    // 2 an hour: 30 minutes to the next.
    expect(results[2]!.body.errors[0].extensions.retryAfterSeconds).toBe(1800);
    expect((await create(second.token)).body.data.createApiKey.apiKey.name).toBe('k');
  });

  it('counts rotateApiKey against the same allowance: a successor is a new key', async () => {
    const { token } = await account();
    const created = await server.graphql('mutation { createApiKey(input: { name: "k", scopes: [READ] }) { apiKey { id } } }', { token, headers: fromIp(freshIp()) });
    const rotate = (id: string) =>
      server.graphql('mutation($id: ID!) { rotateApiKey(id: $id) { apiKey { id } } }', { token, headers: fromIp(freshIp()), variables: { id } });
    const once = await rotate(created.body.data.createApiKey.apiKey.id);
    const twice = await rotate(once.body.data.rotateApiKey.apiKey.id);
    expect(codeOf(twice.body)).toBe('RATE_LIMITED');
  });
});
