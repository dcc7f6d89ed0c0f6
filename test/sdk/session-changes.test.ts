/**
 * A client that keeps a session adopts the tokens of the mutations that move it. A signed-in
 * acceptInvitation moves the session to the invitation's tenant and spends its refresh tokens;
 * the SDK kept its pre-accept refresh token, its next refresh was reuse (the server ended the
 * session), and the client signed in again, back in its first tenant. After switchTenant it kept
 * the refused access token and refreshed to recover.
 */
import { readFileSync } from 'node:fs';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { buildSchema, getNamedType, isObjectType, parse } from 'graphql';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import * as sdk from '../../src/sdk/index.js';
import { createClient, type Session } from '../../src/sdk/index.js';
import { SESSION_CHANGES } from '../../src/sdk/session-changes.js';
import { signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ worker: false });
});
afterAll(() => server?.close());

/** The user's sessions: every one ever opened (a log-in opens one), and how those that ended, ended. */
const sessionsOf = (email: string) =>
  withClient(server.database.ownerUrl, (client) =>
    client.query<{ id: string; revoked_reason: string | null }>('select s.id, s.revoked_reason from sessions s join users u on u.id = s.user_id where u.email = $1 order by s.id', [email]),
  ).then((result) => result.rows);

/** A person with an account of their own, and a host that invites them (MEMBER). */
async function personAndHost(): Promise<{ person: SignedUp; host: SignedUp; invitation: string }> {
  const [person, host] = await Promise.all([signUp(server, { tenantName: 'Mine' }), signUp(server, { tenantName: 'Host' })]);
  const { inviteMember } = await createClient({ url: server.url, token: host.accessToken }).mutate(sdk.InviteMemberDocument, { email: person.email, role: 'MEMBER' });
  return { person, host, invitation: inviteMember.token };
}

describe('a client keeping a session', () => {
  it('goes on in the tenant whose invitation it accepted: no new sign-in, no refresh-token reuse', async () => {
    const { person, host, invitation } = await personAndHost();
    // A skew longer than the token's life: every call renews the session first.
    const client = createClient({ url: server.url, credentials: { email: person.email, password: person.password }, refreshSkewSeconds: 3600 });
    expect((await client.query(sdk.ViewerDocument)).viewer.tenant).toMatchObject({ slug: person.tenant.slug });
    const sessionId = decodeJwt(client.session()!.accessToken).sid;
    const before = await sessionsOf(person.email);

    const { acceptInvitation } = await client.mutate(sdk.AcceptInvitationDocument, { token: invitation });
    expect(acceptInvitation.tenant.slug).toBe(host.tenant.slug);
    for (let call = 0; call < 2; call += 1) {
      const { viewer } = await client.query(sdk.ViewerDocument);
      expect(viewer).toMatchObject({ email: person.email, role: 'MEMBER', tenant: { slug: host.tenant.slug } });
    }
    // The same session carried on: none opened (no log-in), none ended (no reuse).
    expect(decodeJwt(client.session()!.accessToken).sid).toBe(sessionId);
    expect(await sessionsOf(person.email)).toEqual(before);
    expect(before.map((session) => session.revoked_reason)).toEqual([null, null]);
  });

  it('keeps the tokens a document that selects none of them moved the session to, and hands over only what it asked', async () => {
    const { person, host, invitation } = await personAndHost();
    const kept: Session[] = [];
    const signedUp = { accessToken: person.accessToken, refreshToken: person.refreshToken, expiresAt: decodeJwt(person.accessToken).exp! * 1000 };
    const client = createClient({ url: server.url, session: signedUp, onSession: (session) => kept.push(session) });
    const accept = parse('mutation($token: String!) { joined: acceptInvitation(token: $token) { tenant { slug } } }') as TypedDocumentNode<{ joined: { tenant: { slug: string } } }, { token: string }>;
    expect(await client.mutate(accept, { token: invitation })).toEqual({ joined: { tenant: { slug: host.tenant.slug } } });
    const moved = client.session()!;
    expect(kept).toEqual([moved]);
    expect(moved.refreshToken).not.toBe(person.refreshToken);

    // switchTenant returns an access token only: the client takes it and keeps its refresh token.
    const back = parse('mutation($tenant: String!) { switchTenant(tenant: $tenant) { role } }') as TypedDocumentNode<{ switchTenant: { role: string } }, { tenant: string }>;
    expect(await client.mutate(back, { tenant: person.tenant.slug })).toEqual({ switchTenant: { role: 'OWNER' } });
    const switched = client.session()!;
    expect(switched.accessToken).not.toBe(moved.accessToken);
    expect(switched.refreshToken).toBe(moved.refreshToken);
    expect(kept).toEqual([moved, switched]);
    // Sent with the switch's token as it is: no refresh was needed to recover.
    expect((await client.query(sdk.ViewerDocument)).viewer.tenant).toMatchObject({ slug: person.tenant.slug });
    expect(client.session()).toEqual(switched);
    expect((await sessionsOf(person.email)).map((session) => session.revoked_reason)).toEqual([null]);
  });

  it('renews the session only after an acceptance sent meanwhile has moved it', async () => {
    const { person, host, invitation } = await personAndHost();
    const client = createClient({ url: server.url, credentials: { email: person.email, password: person.password }, refreshSkewSeconds: 3600 });
    await client.query(sdk.ViewerDocument);
    const before = await sessionsOf(person.email);
    // Calls that each renew the session first, one after another, while the acceptance is on its way.
    const renewing = (async () => {
      for (let call = 0; call < 4; call += 1) await client.query(sdk.ViewerDocument);
    })();
    const [{ acceptInvitation }] = await Promise.all([client.mutate(sdk.AcceptInvitationDocument, { token: invitation }), renewing]);
    expect(acceptInvitation.tenant.slug).toBe(host.tenant.slug);
    expect((await client.query(sdk.ViewerDocument)).viewer.tenant).toMatchObject({ slug: host.tenant.slug });
    expect(await sessionsOf(person.email)).toEqual(before);
  });

  // A second read of the change above: with the access token within the skew, the client renewed
  // first, with the very refresh token the document then presented (reuse: the session ended).
  it('refreshes with its own refresh token when asked to, without renewing (and spending it) first', async () => {
    const person = await signUp(server, { tenantName: 'Mine' });
    const client = createClient({ url: server.url, credentials: { email: person.email, password: person.password }, refreshSkewSeconds: 3600 });
    await client.query(sdk.ViewerDocument);
    const held = client.session()!;
    const before = await sessionsOf(person.email);
    const { refreshSession } = await client.mutate(sdk.RefreshSessionDocument, { refreshToken: held.refreshToken });
    expect(refreshSession.refreshToken).not.toBe(held.refreshToken);
    expect(client.session()).toMatchObject({ accessToken: refreshSession.accessToken, refreshToken: refreshSession.refreshToken });
    expect((await client.query(sdk.ViewerDocument)).viewer.tenant).toMatchObject({ slug: person.tenant.slug });
    // The same session carried on: none ended (no reuse), none opened (no log-in).
    expect(await sessionsOf(person.email)).toEqual(before);
  });

  it('refuses, without sending it, a refreshSession of a token a renewal queued before it spent, and one beside another session change', async () => {
    const person = await signUp(server, { tenantName: 'Mine' });
    const client = createClient({ url: server.url, credentials: { email: person.email, password: person.password }, refreshSkewSeconds: 3600 });
    await client.query(sdk.ViewerDocument);
    const held = client.session()!;
    const before = await sessionsOf(person.email);
    // The query queues a renewal (every call renews with this skew) before the refresh is asked.
    const renewing = client.query(sdk.ViewerDocument);
    await expect(client.mutate(sdk.RefreshSessionDocument, { refreshToken: held.refreshToken })).rejects.toMatchObject({ code: 'CONFLICT' });
    await renewing;
    const both = parse('mutation($r: String!, $t: String!) { refreshSession(refreshToken: $r) { role } switchTenant(tenant: $t) { role } }') as TypedDocumentNode<unknown, { r: string; t: string }>;
    await expect(client.mutate(both, { r: client.session()!.refreshToken, t: person.tenant.slug })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    // Neither was sent: the session goes on (no reuse ended it).
    expect((await client.query(sdk.ViewerDocument)).viewer.tenant).toMatchObject({ slug: person.tenant.slug });
    expect(await sessionsOf(person.email)).toEqual(before);
  });
});

it('knows every mutation that returns session tokens: each continues the caller’s session or opens another', () => {
  const schema = buildSchema(readFileSync('schema.graphql', 'utf8'));
  const carried = Object.values(schema.getMutationType()!.getFields()).flatMap((field) => {
    const type = getNamedType(field.type);
    if (!isObjectType(type) || !type.getFields().accessToken) return [];
    return [[field.name, ['accessToken', 'refreshToken', 'expiresAt'].filter((token) => type.getFields()[token])] as const];
  });
  // logIn and signUp open a session of their own: the caller's is left as it was.
  const opening = new Set(['logIn', 'signUp']);
  expect(Object.fromEntries(carried.filter(([name]) => !opening.has(name)))).toEqual(
    Object.fromEntries(Object.entries(SESSION_CHANGES).map(([name, change]) => [name, [...change.tokens]])),
  );
});
