/**
 * A person removed from their only tenant can be invited back: logIn refuses them (no tenant to
 * sign in to), so acceptInvitation takes the existing account's password, as a sign-in attempt
 * in logIn's buckets and with logIn's answer to a wrong password. Before, they were told to
 * "sign in, then accept", which they never could: locked out for good.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, signUp, uniqueEmail, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp } from '../limits/support.js';

const INVITE = 'mutation($email: String!, $role: Role!) { inviteMember(email: $email, role: $role) { token } }';
const ACCEPT = 'mutation($token: String!, $password: String) { acceptInvitation(token: $token, password: $password) { accessToken role tenant { slug } user { email } } }';
const LOG_IN = 'mutation($input: LogInInput!) { logIn(input: $input) { accessToken } }';
const MEMBERS = '{ viewer { tenant { members { edges { node { id user { email } } } } } } }';
const PASSWORD = 'the right passphrase';

let server: TestServer;
let owner: SignedUp;
beforeAll(async () => {
  // Small limits that refill slowly, so nothing refills mid-test (as test/limits/attempt-limits.test.ts).
  server = await startTestServer({
    env: { SLUICE_RATE_LIMITS: 'on', SLUICE_TRUST_PROXY: '1', SLUICE_AUTH_LIMIT_PER_IP: '4/1h', SLUICE_AUTH_LIMIT_PER_EMAIL: '10/1h', SLUICE_AUTH_LIMIT_PER_EMAIL_AND_IP: '3/1h' },
  });
  owner = await signUp(server, { tenantName: 'Only Tenant' });
});
afterAll(() => server?.close());

async function invite(email: string, role = 'MEMBER'): Promise<string> {
  const { body } = await server.graphql(INVITE, { token: owner.accessToken, variables: { email, role } });
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data.inviteMember.token;
}

const accept = (token: string, password: string, ip: string) => server.graphql(ACCEPT, { headers: fromIp(ip), variables: { token, password } });
const logIn = (email: string, password: string, ip: string) => server.graphql(LOG_IN, { headers: fromIp(ip), variables: { input: { email, password } } });

/** A person who joined the owner's tenant (their only one) with `PASSWORD` and was removed from it. */
async function removedFromOnlyTenant(): Promise<string> {
  const email = uniqueEmail('carol');
  const joined = await accept(await invite(email), PASSWORD, freshIp());
  if (joined.body.errors) throw new Error(JSON.stringify(joined.body.errors));
  const members = await server.graphql(MEMBERS, { token: owner.accessToken });
  const membership = members.body.data.viewer.tenant.members.edges.find((edge: any) => edge.node.user.email === email).node.id;
  const removed = await server.graphql('mutation($m: ID!) { removeMember(membership: $m) }', { token: owner.accessToken, variables: { m: membership } });
  expect(removed.body.data.removeMember).toBe(true);
  // No tenant left to sign in to: logIn cannot be the way back.
  expect((await logIn(email, PASSWORD, freshIp())).body.errors[0]).toMatchObject({ message: 'You are not a member of any tenant', extensions: { code: 'FORBIDDEN' } });
  return email;
}

describe('a person removed from their only tenant', () => {
  it('is invited back and accepts with their password, getting a session in the tenant', async () => {
    const email = await removedFromOnlyTenant();
    const accepted = await accept(await invite(email, 'VIEWER'), PASSWORD, freshIp());
    expect(accepted.body.errors).toBeUndefined();
    expect(accepted.body.data.acceptInvitation).toMatchObject({ role: 'VIEWER', tenant: { slug: owner.tenant.slug }, user: { email } });
    const viewer = await server.graphql('{ viewer { email role tenant { slug } } }', { token: accepted.body.data.acceptInvitation.accessToken });
    expect(viewer.body.data.viewer).toEqual({ email, role: 'VIEWER', tenant: { slug: owner.tenant.slug } });
    // And signs in again as usual.
    expect((await logIn(email, PASSWORD, freshIp())).body.data.logIn.accessToken).toEqual(expect.any(String));
  });

  it("is refused a wrong password with logIn's answer, each guess a sign-in attempt in logIn's buckets", async () => {
    const email = await removedFromOnlyTenant();
    const token = await invite(email);
    const guesser = freshIp();
    // One wrong logIn, then two wrong acceptances, from one address: three attempts in its bucket.
    const wrongLogIn = await logIn(email, 'not the passphrase', guesser);
    expect(codeOf(wrongLogIn.body)).toBe('UNAUTHENTICATED');
    for (let i = 0; i < 2; i++) {
      const wrong = await accept(token, `guess number ${i}`, guesser);
      // The same answer as logIn's for a wrong password or an unknown email: no more is told.
      const { message, extensions } = wrong.body.errors[0];
      expect({ message, extensions }).toEqual({ message: 'Invalid email or password', extensions: wrongLogIn.body.errors[0].extensions });
    }
    // 3 per email from one address, logIn's and acceptInvitation's together: then refused, right password or not.
    const right = await accept(token, PASSWORD, guesser);
    expect(right.status).toBe(429);
    expect(right.body.errors[0].message).toMatch(/^Too many sign-in attempts for this email address from your address: retry in \d+ s$/);
    // The invitation is still unused: its person accepts from elsewhere.
    const accepted = await accept(token, PASSWORD, freshIp());
    expect(accepted.body.data.acceptInvitation).toMatchObject({ role: 'MEMBER', user: { email } });
  });

  it('cannot accept an invitation for another email, signed in or with their password', async () => {
    const email = await removedFromOnlyTenant();
    const other = await signUp(server, { tenantName: 'Other' });
    const forOther = await invite(other.email);
    // Carol's password is not the other account's: logIn's refusal, nothing joined.
    expect(codeOf((await accept(forOther, PASSWORD, freshIp())).body)).toBe('UNAUTHENTICATED');
    // Signed in as someone else (Carol back in, through her own invitation): refused as before.
    const carol = await accept(await invite(email), PASSWORD, freshIp());
    const signedIn = await server.graphql(ACCEPT, { token: carol.body.data.acceptInvitation.accessToken, variables: { token: forOther } });
    expect(signedIn.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'email' });
    // The other account's own password still works: the invitation was left unused.
    const theirs = await accept(forOther, other.password, freshIp());
    expect(theirs.body.data.acceptInvitation).toMatchObject({ tenant: { slug: owner.tenant.slug }, user: { email: other.email } });
  });
});
