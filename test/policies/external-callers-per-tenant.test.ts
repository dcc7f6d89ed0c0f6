/**
 * An external identity is `issuer#subject` within the tenant that registered the issuer: two
 * tenants may register one issuer (with audiences of their own) under keys of their own, so
 * another tenant can sign any subject of that issuer. Its calls to a tenant's published endpoint
 * must count, and be recorded, as that other tenant's caller, never as the endpoint tenant's own
 * user of the same name (an attacker review: they used up her per-user allowance, and its
 * denials were on her tenant's trail under exactly her actor id).
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEventsOf } from '../support/audit.js';
import { endpointOver, uniqueSlug } from '../support/endpoints.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { createPolicy, must, outcome } from '../support/policies.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { pollUntil } from '../support/poll.js';
import { ManualClock } from '../limits/support.js';
import { addMember, signUp } from '../support/identity.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber. Boats rise with the water.' }];

/** The refusal log's flood limit, per trail and caller; the buckets' clock stands still. */
const LIMIT = 3;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ clock: new ManualClock(), env: { SLUICE_AUTH_FAILURE_AUDIT_LIMIT: `${LIMIT}/2s` } });
}, 60_000);
afterAll(async () => {
  await server?.close();
});

/**
 * A victim tenant and an attacker tenant, each of its own (own trail and buckets), who both
 * registered one issuer; the victim's published endpoint allows each caller one query an hour.
 */
async function sharedIssuer() {
  const [victim, attacker] = await Promise.all([tenantWithOwner(server), tenantWithOwner(server)]);
  const issuer = `https://idp.${uniqueSlug('shared')}.example.test`;
  const victimTokenOf = await providerOf(victim, issuer, 'victim-app');
  const forgedTokenOf = await providerOf(attacker, issuer, 'attacker-app');
  const setup = await endpointOver(server, victim.token, DOCS, { published: true });
  await createPolicy(server, victim.token, setup.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 3600, scope: 'per_user' });
  return { victim, attacker, issuer, setup, alice: await victimTokenOf('alice'), forged: await forgedTokenOf('alice') };
}

/** Registers `issuer` for `tenant` with `audience` and a key of its own; returns a signer of `sub`s. */
async function providerOf(tenant: Tenant, issuer: string, audience: string): Promise<(subject: string) => Promise<string>> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true });
  await must(server, tenant.token, `mutation($input: RegisterIdentityProviderInput!) { registerIdentityProvider(input: $input) { id } }`, {
    input: { name: 'Shared IdP', issuer, audience, jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] } },
  });
  return (subject) => sign(privateKey, issuer, audience, subject);
}

function sign(key: CryptoKey, issuer: string, audience: string, subject: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' }).setIssuer(issuer).setAudience(audience).setSubject(subject).setExpirationTime('1h').sign(key);
}

describe('an external identity of another tenant', () => {
  it('is not the endpoint tenant’s user of the same issuer and subject: per_user limits and the trail tell them apart', async () => {
    const { victim, attacker, issuer, setup, alice, forged } = await sharedIssuer();
    expect((await outcome(server, forged, setup.reference)).code).toBe('ok');
    expect((await outcome(server, forged, setup.reference)).code).toBe('RATE_LIMITED');
    // The victim's own alice has her allowance whole (before the fix: RATE_LIMITED), and only hers.
    expect((await outcome(server, alice, setup.reference)).code).toBe('ok');
    expect((await outcome(server, alice, setup.reference)).code).toBe('RATE_LIMITED');

    // The victim's trail names each denial's caller as whose it is: the attacker's alice qualified by her tenant.
    const theirs = `tenant:${attacker.tenant.id}/${issuer}#alice`;
    const ours = `${issuer}#alice`;
    const denials = await auditEventsOf(server, victim.token, 2, { action: 'policy.denied' });
    expect(new Set(denials.map((event) => `${event.actorKind}:${event.actorId}`))).toEqual(new Set([`external:${theirs}`, `external:${ours}`]));
    const filtered = await auditEventsOf(server, victim.token, 1, { action: 'policy.denied', actor: ours });
    expect(filtered.map((event) => event.actorId)).toEqual([ours]);
    // The decision log tells them apart by the caller's tenant.
    const log = await must(server, victim.token, `query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { decision callerTenantId callerId } } } }`, {
      f: { endpointId: setup.endpointId, decision: 'DENY' },
    });
    expect(new Set(log.policyDecisions.edges.map(({ node }: { node: Record<string, string> }) => `${node.callerTenantId}:${node.callerId}`))).toEqual(
      new Set([`${attacker.tenant.id}:${ours}`, `${victim.tenant.id}:${ours}`]),
    );
    // Each one's own use of the endpoint, and the owner's usage by caller, keep them apart.
    const usageOf = (token: string) => must(server, token, `query($e: String!) { myUsage(endpoint: $e) { queries denials } }`, { e: setup.reference }).then((data) => data.myUsage);
    const both = () => Promise.all([usageOf(alice), usageOf(forged)]);
    const used = await pollUntil(both, (usages) => usages.every((usage) => usage.queries >= 1), { failure: (usages) => `usage ${JSON.stringify(usages)}` });
    expect(used).toEqual([{ queries: 1, denials: 1 }, { queries: 1, denials: 1 }]);
    const byCaller = (await must(server, victim.token, `{ usage(groupBy: CALLER) { key queries denials } }`)).usage;
    expect(byCaller).toEqual(expect.arrayContaining([{ key: `external:${theirs}`, queries: 1, denials: 1 }, { key: `external:${ours}`, queries: 1, denials: 1 }]));
  });

  // The refusal log's flood limit counted a caller's refusals per `kind:id` on the trail: the
  // attacker's refusals as alice used up hers, and her first denial was counted, not written.
  it('does not use up the flood limit of the endpoint tenant’s user of that name: her first denial is on her tenant’s log', async () => {
    const { victim, issuer, setup, alice, forged } = await sharedIssuer();
    expect((await outcome(server, forged, setup.reference)).code).toBe('ok');
    for (let n = 0; n <= LIMIT; n++) expect((await outcome(server, forged, setup.reference)).code).toBe('RATE_LIMITED');
    expect((await outcome(server, alice, setup.reference)).code).toBe('ok');
    expect((await outcome(server, alice, setup.reference)).code).toBe('RATE_LIMITED');
    const ours = `${issuer}#alice`;
    // Her DENY row is written before her refusal is answered; her policy.denied event follows.
    const log = await must(server, victim.token, `query($f: PolicyDecisionFilter) { policyDecisions(filter: $f) { edges { node { callerTenantId } } } }`, {
      f: { endpointId: setup.endpointId, decision: 'DENY', callerId: ours },
    });
    expect(log.policyDecisions.edges.filter(({ node }: { node: Record<string, string> }) => node.callerTenantId === victim.tenant.id)).toHaveLength(1);
    const hers = await auditEventsOf(server, victim.token, 1, { action: 'policy.denied', actor: ours });
    expect(hers.map((event) => event.outcome)).toEqual(['RATE_LIMITED']);
  });
});

describe('a user or API key', () => {
  // Only an external identity is qualified by its tenant: a user is one caller whichever tenant it
  // acts from (a second read of the fix above: its per_user allowance, and a content guard's
  // count, started again after switchTenant).
  it('is one caller whichever of its tenants it acts from', async () => {
    const owner = await tenantWithOwner(server);
    const setup = await endpointOver(server, owner.token, DOCS, { published: true });
    await createPolicy(server, owner.token, setup.endpointId, 'rate_limit', { requestsPerPeriod: 1, periodSeconds: 3600, scope: 'per_user' });
    const home = await signUp(server, { tenantName: 'Home' });
    const away = await signUp(server, { tenantName: 'Away' });
    await addMember(server, away.accessToken, 'MEMBER', home.email);
    expect((await outcome(server, home.accessToken, setup.reference)).code).toBe('ok');
    const switched = await must(server, home.accessToken, 'mutation($t: String!) { switchTenant(tenant: $t) { accessToken } }', { t: away.tenant.slug });
    expect((await outcome(server, switched.switchTenant.accessToken, setup.reference)).code).toBe('RATE_LIMITED');
    const usageOf = () => must(server, switched.switchTenant.accessToken, `query($e: String!) { myUsage(endpoint: $e) { queries denials } }`, { e: setup.reference }).then((data) => data.myUsage);
    const usage = await pollUntil(usageOf, (totals) => totals.queries + totals.denials >= 2, { failure: (totals) => `usage ${JSON.stringify(totals)}` });
    expect(usage).toEqual({ queries: 1, denials: 1 });
  });
});
