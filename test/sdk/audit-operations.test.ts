/**
 * The SDK's audit, privacy and plumbing operations round-tripped against the real server:
 * the audit trail (listed, live, verified), a member's data export, log-out and account
 * deletion, node lookups, and the heartbeat subscription.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as sdk from '../../src/sdk/index.js';
import { createClient, type SluiceClient } from '../../src/sdk/index.js';
import { startTestServer, type TestServer } from '../support/server.js';

const password = 'a long enough passphrase';
const stamp = Date.now();
const ownerEmail = `sdk-audit-${stamp}@example.test`;
let server: TestServer;
let owner: SluiceClient;

beforeAll(async () => {
  server = await startTestServer({ worker: false });
  await createClient({ url: server.url }).mutate(sdk.SignUpDocument, { input: { email: ownerEmail, password, tenantName: 'SDK Audit' } });
  owner = createClient({ url: server.url, credentials: { email: ownerEmail, password }, webSocketImpl: WebSocket });
});
afterAll(async () => {
  await owner?.close();
  await server?.close();
});

describe('audit trail', () => {
  it('streams new events live, lists them, and verifies the chain', async () => {
    const live = owner.subscribe(sdk.AuditEventsLiveDocument);
    // The client signs in first (auth.login), then the writes below arrive.
    const firstWrite = (async () => {
      for await (const { auditEvents } of live) if (auditEvents.action === 'graphql.mutation') return auditEvents;
      throw new Error('the live feed ended');
    })();
    // The subscription starts asynchronously: write audited changes until one arrives.
    let written = 0;
    const writer = setInterval(() => void owner.mutate(sdk.CreateDatasetDocument, { input: { name: 'Audited', slug: `audited-${stamp}-${written++}` } }), 100);
    try {
      const event = await firstWrite;
      expect(event).toMatchObject({ action: 'graphql.mutation', outcome: 'ok', actorEmail: ownerEmail, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(Date.parse(event.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      clearInterval(writer);
      await live.return?.();
    }
    const { auditEvents } = await owner.query(sdk.AuditEventsDocument, { first: 100, filter: { action: 'graphql.mutation' } });
    expect(auditEvents.events.length).toBeGreaterThan(0);
    expect(auditEvents.events.every((event) => event.action === 'graphql.mutation' && !Number.isNaN(Date.parse(event.createdAt)))).toBe(true);
    expect((await owner.query(sdk.VerifyAuditChainDocument, {})).verifyAuditChain).toMatchObject({ ok: true, firstBrokenEventId: null });
  });
});

describe('personal data', () => {
  it('exports a member’s data, logs out, deletes the account, after which it cannot sign in', async () => {
    const email = `sdk-leaver-${stamp}@example.test`;
    const { inviteMember } = await owner.mutate(sdk.InviteMemberDocument, { email, role: 'MEMBER' });
    await createClient({ url: server.url }).mutate(sdk.AcceptInvitationDocument, { token: inviteMember.token, password, displayName: 'Leaver' });
    const leaver = createClient({ url: server.url, credentials: { email, password } });
    const { exportMyData } = await leaver.query(sdk.ExportMyDataDocument);
    expect(JSON.stringify(exportMyData)).toContain(email);
    expect(JSON.stringify(exportMyData)).not.toContain(ownerEmail);
    const before = leaver.session()!.accessToken;
    expect((await leaver.mutate(sdk.LogOutDocument)).logOut).toBe(true);
    // The logged-out token is refused; the client signs in again by itself.
    expect((await leaver.query(sdk.ViewerDocument)).viewer.email).toBe(email);
    expect(leaver.session()!.accessToken).not.toBe(before);
    expect((await leaver.mutate(sdk.DeleteMyAccountDocument, { password })).deleteMyAccount).toBe(true);
    await expect(createClient({ url: server.url }).mutate(sdk.LogInDocument, { input: { email, password } })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('plumbing', () => {
  it('looks nodes up by global id', async () => {
    const { createDataset } = await owner.mutate(sdk.CreateDatasetDocument, { input: { name: 'Nodes', slug: `nodes-${stamp}` } });
    expect((await owner.query(sdk.NodeDocument, { id: createDataset.id })).node).toEqual({ __typename: 'Dataset', id: createDataset.id });
    const { nodes } = await owner.query(sdk.NodesDocument, { ids: [createDataset.id, createDataset.id] });
    expect(nodes.map((node) => node?.__typename)).toEqual(['Dataset', 'Dataset']);
  });

  it('ticks the heartbeat the number of times asked, then completes', async () => {
    const ticks: number[] = [];
    for await (const { heartbeat } of owner.subscribe(sdk.HeartbeatDocument, { intervalSeconds: 1, count: 2 })) ticks.push(heartbeat.sequence);
    expect(ticks).toHaveLength(2);
    expect(ticks[1]).toBeGreaterThan(ticks[0]!);
  });
});
