/**
 * Brute-force limits on the fields worth guessing at: logIn and signUp per client address and
 * per email, over GraphQL and the REST login alike (one allowance for both doors), and
 * createApiKey per principal. Limits are small and refill slowly, so nothing refills mid-test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, uniqueEmail } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp } from './support.js';

const LOG_IN = 'mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }';
const SIGN_UP = 'mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }';
const PASSWORD = 'the right passphrase';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: {
      SLUICE_RATE_LIMITS: 'on',
      SLUICE_TRUST_PROXY: '1',
      SLUICE_AUTH_LIMIT_PER_IP: '4/1h',
      SLUICE_AUTH_LIMIT_PER_EMAIL: '3/1h',
      SLUICE_API_KEY_CREATE_LIMIT: '2/1h',
    },
  });
});
afterAll(() => server?.close());

/** A new account (signed up from its own address), its email and access token. */
async function account(email = uniqueEmail('brute')): Promise<{ email: string; token: string }> {
  const { body } = await server.graphql(SIGN_UP, { headers: fromIp(freshIp()), variables: { input: { email, password: PASSWORD, tenantName: 'Brute' } } });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return { email, token: body.data.signUp.accessToken };
}

const logIn = (email: string, password: string, ip: string) => server.graphql(LOG_IN, { headers: fromIp(ip), variables: { input: { email, password } } });

function restLogIn(email: string, password: string, ip: string) {
  return fetch(`${server.baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...fromIp(ip) },
    body: JSON.stringify({ email, password }),
  });
}

describe('logIn', () => {
  it('blocks guessing one email from many addresses, then the right password too, over GraphQL and REST', async () => {
    const { email } = await account();
    for (let i = 0; i < 3; i++) {
      const wrong = await logIn(email, `guess number ${i}`, freshIp());
      expect(codeOf(wrong.body)).toBe('UNAUTHENTICATED');
    }
    const right = await logIn(email.toUpperCase(), PASSWORD, freshIp());
    expect(right.status).toBe(429);
    // 3 an hour: the next attempt is 20 minutes after the last one, less the time the bucket
    // refilled since (seconds on a busy machine), never more.
    const retryAfter = Number(right.headers.get('retry-after'));
    expect(retryAfter).toBeLessThanOrEqual(1200);
    expect(retryAfter).toBeGreaterThan(1200 - 60);
    expect(right.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', retryAfterSeconds: retryAfter });
    expect(right.body.errors[0].message).toBe(`Too many sign-in attempts for this email address: retry in ${retryAfter} s`);
    expect(right.body.data ?? null).toBeNull();

    const rest = await restLogIn(` ${email} `, PASSWORD, freshIp());
    expect(rest.status).toBe(429);
    const restRetryAfter = Number(rest.headers.get('retry-after'));
    expect(restRetryAfter).toBeLessThanOrEqual(retryAfter);
    expect(restRetryAfter).toBeGreaterThan(1200 - 60);
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
    const first = await server.graphql(threeInOne, { headers: fromIp(freshIp()), variables: { e: email, p: PASSWORD } });
    expect(first.body.errors).toBeUndefined();
    expect(Object.keys(first.body.data).sort()).toEqual(['a', 'b', 'c']);
    // Those were three attempts, the whole allowance: a fourth, however sent, is refused.
    const fourth = await logIn(email, PASSWORD, freshIp());
    expect([fourth.status, codeOf(fourth.body)]).toEqual([429, 'RATE_LIMITED']);
    const again = await server.graphql(threeInOne, { headers: fromIp(freshIp()), variables: { e: email, p: PASSWORD } });
    expect(again.status).toBe(429);
    expect(again.body.data ?? null).toBeNull();
    expect(again.body.errors.map((error: any) => error.extensions.code)).toEqual(['RATE_LIMITED']);
  });
});

describe('signUp', () => {
  it('is limited per email and per address', async () => {
    const email = uniqueEmail('twice');
    const codes = [];
    for (let i = 0; i < 4; i++) {
      const { body } = await server.graphql(SIGN_UP, { headers: fromIp(freshIp()), variables: { input: { email, password: PASSWORD, tenantName: 'Dup' } } });
      codes.push(codeOf(body) ?? 'OK');
    }
    expect(codes).toEqual(['OK', 'CONFLICT', 'CONFLICT', 'RATE_LIMITED']);

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
