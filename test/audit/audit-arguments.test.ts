/**
 * What an operation's audit event keeps of its arguments is decided by the schema's audit
 * marks, not by the client's variable names (issue 17, item 5): variables called `$p` and `$x`
 * carry passwords, tokens, questions and emails here. Read back as a tenant ADMIN reads them
 * (the auditEvents query and the JSON Lines export) and, for the platform's chain (anonymous
 * operations: logIn, acceptInvitation, refreshSession), straight from the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { PLATFORM_CHAIN } from '../../src/domains/audit/audit-log.js';
import { verifyChain } from '../../src/domains/audit/chain-verifier.js';
import { AUDIT_FIELDS, auditEventsOf } from '../support/audit.js';
import { endpointOver, endpointQueryOverWebSocket, gql, must } from '../support/endpoints.js';
import { signUp, uniqueEmail } from '../support/identity.js';
import { createDataset, ingestInline } from '../support/ingestion.js';
import { secretsOf, startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const SESSION = 'accessToken refreshToken user { id }';

/** The tenant's events as an ADMIN sees them (GraphQL), with `personalValues`. */
/** A test for tenantEvents: an operation event of each of these root fields is there. */
const withFields =
  (...fields: string[]) =>
  (events: Record<string, any>[]) =>
    fields.every((field) => events.some((event) => event.details.fields?.[0]?.field === field));

/** The tenant's events, oldest first, once `until` holds (a count, or a test of the events): writes are asynchronous. */
async function tenantEvents(token: string, until: number | ((events: Record<string, any>[]) => boolean), filter: Record<string, unknown> = {}) {
  const done = typeof until === 'number' ? (events: unknown[]) => events.length >= until : until;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const data = await must(server, token, `query($f: AuditEventFilter) { auditEvents(filter: $f, first: 100) { events { ${AUDIT_FIELDS} personalValues } } }`, { f: filter });
    const events = [...data.auditEvents.events].reverse() as Record<string, any>[];
    if (done(events) || Date.now() > deadline) return events;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exported(token: string): Promise<Record<string, any>[]> {
  const response = await fetch(`${server.baseUrl}/api/v1/audit/events.jsonl`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  return (await response.text()).trim().split('\n').map((line) => JSON.parse(line));
}

/** Every stored row of a chain, payload and personal data, straight from the database. */
async function storedRows(tenantId: string) {
  return withClient(server.database.ownerUrl, async (client) => (await client.query('select id, action, payload, personal from audit_events where tenant_id = $1 order by seq', [tenantId])).rows);
}

/** The platform chain's operation events for `field` naming `personalValue`, once `count` are written. */
async function platformOperation(field: string, personalValue: string, count = 1) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await withClient(server.database.ownerUrl, async (client) =>
      (
        await client.query(
          `select payload, personal from audit_events where tenant_id = $1 and action = 'graphql.mutation'
              and payload->'details'->'fields'->0->>'field' = $2 and personal->'values' ? $3 order by seq`,
          [PLATFORM_CHAIN, field, personalValue],
        )
      ).rows,
    );
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function verifyPlatformChain() {
  return withClient(server.database.ownerUrl, (client) =>
    verifyChain(
      async (sql, params) => {
        let index = 0;
        return (await client.query(sql.replace(/\?/g, () => `$${++index}`), params)).rows;
      },
      secretsOf(server),
      PLATFORM_CHAIN,
    ),
  );
}

describe('secrets given as arguments', () => {
  it('keeps no password, refresh token or invitation token, whatever the variables are called, and erasure leaves no email', async () => {
    const owner = await signUp(server, { password: 'owner passphrase 0001' });
    const ownerTenant = databaseIdOf(owner.tenant.id);
    const invitee = uniqueEmail('invitee');
    const invited = await must(server, owner.accessToken, 'mutation($x: String!) { inviteMember(email: $x, role: MEMBER) { token } }', { x: invitee });
    const invitationToken = invited.inviteMember.token as string;
    const memberPassword = 'member passphrase 7777';
    const accepted = await must(server, '', `mutation($x: String!, $p: String) { acceptInvitation(token: $x, password: $p) { ${SESSION} } }`, { x: invitationToken, p: memberPassword });
    const member = accepted.acceptInvitation;
    const refreshed = await must(server, '', `mutation($x: String!) { refreshSession(refreshToken: $x) { ${SESSION} } }`, { x: member.refreshToken });
    const loggedIn = await must(server, '', `mutation($x: LogInInput!) { logIn(input: $x) { ${SESSION} } }`, { x: { email: invitee, password: memberPassword } });
    // A password written into the document as a literal is an argument too.
    // Typed with spaces and capitals (sign-in accepts it): kept in the form erasure looks for.
    const literal = await gql(server, '', `mutation { logIn(input: { email: " ${invitee.toUpperCase()} ", password: "wrong but secret 4242" }) { accessToken } }`);
    expect(literal.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const token = loggedIn.logIn.accessToken as string;
    const wrong = await gql(server, token, 'mutation($p: String!) { deleteMyAccount(password: $p) }', { p: 'not my passphrase 31337' });
    expect(wrong.errors[0].extensions.code).toBe('UNAUTHENTICATED');

    const secrets = [owner.password, memberPassword, 'wrong but secret 4242', 'not my passphrase 31337', invitationToken, member.refreshToken, refreshed.refreshSession.refreshToken, token];
    const events = await tenantEvents(owner.accessToken, withFields('deleteMyAccount'), { action: 'graphql.mutation', actor: databaseIdOf(member.user.id) });
    const platform = await platformOperation('logIn', invitee, 2);
    expect(platform.length).toBe(2);
    const json = JSON.stringify([events, await exported(owner.accessToken), await storedRows(ownerTenant), await storedRows(PLATFORM_CHAIN)]);
    for (const secret of secrets) expect(json).not.toContain(secret);

    // What is kept instead: that a secret was given, and the email outside the hashed payload.
    const deletion = events.find((event) => event.details.fields?.[0]?.field === 'deleteMyAccount')!;
    expect(deletion.details.fields).toEqual([{ field: 'deleteMyAccount', arguments: { password: { secret: 'omitted' } } }]);
    expect(deletion.details).not.toHaveProperty('variables');
    expect(platform[0].payload.details.fields).toEqual([{ field: 'logIn', arguments: { input: { email: { personal: 0 }, password: { secret: 'omitted' } } } }]);
    expect(platform[0].personal.values).toEqual([invitee]);
    const lastOnPlatform = async (field: string) =>
      withClient(server.database.ownerUrl, async (client) =>
        (await client.query(`select payload from audit_events where tenant_id = $1 and payload->'details'->'fields'->0->>'field' = $2 order by seq desc limit 1`, [PLATFORM_CHAIN, field])).rows[0],
      );
    expect((await lastOnPlatform('refreshSession')).payload.details.fields[0].arguments).toEqual({ refreshToken: { secret: 'omitted' } });
    expect((await lastOnPlatform('acceptInvitation')).payload.details.fields[0].arguments).toEqual({ token: { secret: 'omitted' }, password: { secret: 'omitted' } });

    // The invitee's email: in the erasable part of the owner's events, never in a payload.
    const ownerEvents = await tenantEvents(owner.accessToken, (events) => withFields('inviteMember')(events) && events.some((event) => event.action === 'config.member.invite'), { action: '*' });
    const invitation = ownerEvents.find((event) => event.details.fields?.[0]?.field === 'inviteMember')!;
    expect(invitation.details.fields[0].arguments).toEqual({ email: { personal: 0 }, role: 'MEMBER' });
    expect(invitation.personalValues).toEqual([invitee]);
    const change = ownerEvents.find((event) => event.action === 'config.member.invite')!;
    expect(change.details.after.email).toEqual({ personal: 0 });
    expect(change.personalValues).toEqual([invitee]);
    const payloads = async () => JSON.stringify([...(await storedRows(ownerTenant)), ...(await storedRows(PLATFORM_CHAIN))].map((row) => row.payload));
    expect(await payloads()).not.toContain(invitee);

    // Erasure: the email leaves the personal data too, and both chains still verify.
    expect((await must(server, token, 'mutation($p: String!) { deleteMyAccount(password: $p) }', { p: memberPassword })).deleteMyAccount).toBe(true);
    await tenantEvents(owner.accessToken, (events) => events.filter((event) => event.details.fields?.[0]?.field === 'deleteMyAccount').length >= 2, { action: 'graphql.mutation', actor: databaseIdOf(member.user.id) });
    const everything = await withClient(server.database.ownerUrl, async (client) => (await client.query('select payload, personal from audit_events')).rows);
    expect(JSON.stringify(everything).toLowerCase()).not.toContain(invitee.toLowerCase());
    expect((await must(server, owner.accessToken, '{ verifyAuditChain { ok problem } }')).verifyAuditChain).toEqual({ ok: true, problem: null });
    expect(await verifyPlatformChain()).toMatchObject({ ok: true, problem: null });
    const afterErasure = (await tenantEvents(owner.accessToken, 2, { action: '*' })).find((event) => event.id === invitation.id)!;
    expect(afterErasure.personalValues).toEqual([null]);
  });

  it('keeps no key put in an operation name or an alias', async () => {
    const owner = await signUp(server);
    const key = `slk_${'Ab3x'.repeat(10)}Zz9`; // the shape of a Sluice key (43 characters after the prefix), a valid GraphQL name
    await must(server, owner.accessToken, `query ${key} { ${key}: viewer { kind } }`);
    const events = await tenantEvents(owner.accessToken, withFields('viewer'), { action: 'graphql.query' });
    const asked = events.find((event) => event.details.fields?.[0]?.field === 'viewer')!;
    expect([asked.details.operationName, asked.details.fields[0].alias]).toEqual(['slk_[redacted]', 'slk_[redacted]']);
    expect(JSON.stringify(await storedRows(databaseIdOf(owner.tenant.id)))).not.toContain(key);
  });

  it('keeps no model key, given in a variable of any name', async () => {
    const owner = await signUp(server);
    const modelKey = 'sk-model-key-0123456789abcdef';
    await must(server, owner.accessToken, 'mutation($x: CreateModelInput!) { createModel(input: $x) { id } }', {
      x: { name: 'with-key', type: 'openai-compatible', apiKey: modelKey, config: { baseUrl: 'https://models.example.com/v1', model: 'm' } },
    }).catch(() => undefined); // whether or not the model is accepted, the argument is audited
    const events = await tenantEvents(owner.accessToken, withFields('createModel'), { action: 'graphql.mutation' });
    const creation = events.find((event) => event.details.fields?.[0]?.field === 'createModel')!;
    expect(creation.details.fields[0].arguments.input.apiKey).toEqual({ secret: 'omitted' });
    expect(JSON.stringify(await storedRows(databaseIdOf(owner.tenant.id)))).not.toContain('model-key-0123456789abcdef');
  });

  it('keeps no secret put under a secret-named member of an unmarked JSON argument, whatever it looks like', async () => {
    // A natural mistake: the provider key in `config` instead of `apiKey`, with no recognisable prefix (Azure's, a self-hosted server's).
    const owner = await signUp(server);
    const secrets = { api_key: '3f9c2b7e8a1d4c6f9e0b2a5d7c8e1f40', apiKey: 'CFGSECRETVALUE42', headers: { Authorization: 'Token abcdef0123456789', 'x-api-key': 'hdrsecret99887766', Cookie: 'sid=cookie5566778899' }, env: { AZURE_OPENAI_APIKEY: 'envkey11223344', PGPASSWORD: 'pgpw99887766' } };
    const created = await gql(server, owner.accessToken, 'mutation($x: CreateModelInput!) { createModel(input: $x) { id } }', {
      x: { name: 'azure', type: 'openai-compatible', config: { baseUrl: 'https://myco.openai.azure.com/openai', model: 'gpt', maxTokens: 512, ...secrets } },
    });
    expect(created.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT'); // refused, and audited all the same
    const events = await tenantEvents(owner.accessToken, withFields('createModel'), { action: 'graphql.mutation' });
    const config = events.find((event) => event.details.fields?.[0]?.field === 'createModel')!.details.fields[0].arguments.input.config;
    expect(config).toMatchObject({ api_key: { secret: 'omitted' }, apiKey: { secret: 'omitted' }, headers: { Authorization: { secret: 'omitted' }, 'x-api-key': { secret: 'omitted' }, Cookie: { secret: 'omitted' } }, env: { AZURE_OPENAI_APIKEY: { secret: 'omitted' }, PGPASSWORD: { secret: 'omitted' } } });
    // What is not a secret is kept as it was.
    expect(config).toMatchObject({ model: 'gpt', maxTokens: 512 });
    const stored = JSON.stringify(await storedRows(databaseIdOf(owner.tenant.id))) + JSON.stringify(await exported(owner.accessToken));
    for (const secret of ['3f9c2b7e8a1d4c6f9e0b2a5d7c8e1f40', 'CFGSECRETVALUE42', 'abcdef0123456789', 'hdrsecret99887766', 'cookie5566778899', 'envkey11223344', 'pgpw99887766']) expect(stored).not.toContain(secret);
  });
});

describe('free text given as arguments', () => {
  it('keeps a question (a card number in it too) as its length and a keyed digest, over HTTP and WebSocket', async () => {
    const owner = await signUp(server);
    const setup = await endpointOver(server, owner.accessToken, [{ title: 'Locks', text: 'The lock keeper opens the sluice gates.' }]);
    const question = 'lock keeper, my card is 4111 1111 1111 1111';
    const asked = await gql(server, owner.accessToken, 'query($x: String!, $e: String!) { queryEndpoint(endpoint: $e, query: $x) { answer } }', { x: question, e: setup.reference });
    expect(asked.errors).toBeUndefined();
    const streamed = await endpointQueryOverWebSocket(server, owner.accessToken, setup.reference, question);
    expect(streamed.at(-1).errors).toBeUndefined();

    const events = await tenantEvents(owner.accessToken, withFields('queryEndpoint', 'endpointQuery'), { action: 'graphql.*' });
    const http = events.find((event) => event.details.fields?.[0]?.field === 'queryEndpoint')!;
    const ws = events.find((event) => event.details.fields?.[0]?.field === 'endpointQuery')!;
    expect(http.details.fields[0].arguments).toEqual({
      endpoint: setup.reference,
      query: { text: { length: question.length, digest: expect.stringMatching(/^[0-9a-f]{64}$/), keyId: expect.any(String) } },
    });
    // The same text gives the same digest: events can be matched without the text.
    expect(ws.details.fields[0].arguments.query).toEqual(http.details.fields[0].arguments.query);
    const json = JSON.stringify([events, await exported(owner.accessToken), await storedRows(databaseIdOf(owner.tenant.id))]);
    expect(json).not.toContain('4111 1111 1111 1111');
    expect(json).not.toContain('lock keeper, my card');
  });

  it('keeps document text, titles and descriptions as digests, unmarked names as they are', async () => {
    const owner = await signUp(server);
    const description = 'Board memos, do not share';
    const dataset = await createDataset(server, owner.accessToken, { name: 'Memos', description });
    const text = 'Confidential memo: the sluice opens at dawn.';
    // A title may name a person ("Performance review, Alice Smith"): it outlived the document,
    // its dataset and its tenant in the hashed payload, where no erasure reaches.
    const title = 'Performance review, Alice Smith';
    expect((await ingestInline(server, owner.accessToken, dataset.id, [{ title, text }])).body.errors).toBeUndefined();
    const events = await tenantEvents(owner.accessToken, withFields('createDataset', 'ingestDocuments'), { action: 'graphql.mutation' });
    const creation = events.find((event) => event.details.fields?.[0]?.field === 'createDataset')!;
    expect(creation.details.fields[0].arguments.input).toMatchObject({ name: 'Memos', description: { text: { length: description.length } } });
    const ingestion = events.find((event) => event.details.fields?.[0]?.field === 'ingestDocuments')!;
    expect(ingestion.details.fields[0].arguments.documents).toEqual([
      { title: { text: { length: title.length, digest: expect.any(String), keyId: expect.any(String) } }, text: { text: { length: text.length, digest: expect.any(String), keyId: expect.any(String) } } },
    ]);
    const json = JSON.stringify([events, await exported(owner.accessToken)]);
    expect(json).not.toContain('Alice Smith');
    expect(json).not.toContain('do not share');
    expect(json).not.toContain('opens at dawn');
  });
});
