/**
 * The guard against server-side request forgery through a model's baseUrl
 * (SLUICE_EGRESS_PRIVATE_NETWORKS, deny by default in production; src/platform/egress): private
 * and reserved IP literals and `localhost` are refused when the model is configured; a host
 * name that resolves into them is refused when the connection is made, before any byte
 * reaches it; and CIDRs the operator lists are let through. fake-openai is the model server
 * double. test/hardening/egress.test.ts covers the guard for identity providers and metadata.
 */
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { parsePrivateNetworkPolicy, refusalOf, refusesAddress } from '../../src/platform/egress/policy.js';
import { createModel, endpointOver, gql, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];
const CREATE_MODEL = 'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }';
const TEST_MODEL = 'mutation($id: ID!) { testModel(id: $id) { ok error } }';

let fake: FakeOpenAI;
let guarded: TestServer;
let owner: Tenant;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  guarded = await startTestServer({ env: { SLUICE_MODEL_PRIVATE_NETWORKS: 'deny', SLUICE_MODEL_MAX_RETRIES: '0' } });
  owner = await tenantWithOwner(guarded);
});
afterAll(async () => {
  await guarded?.close();
  await fake?.close();
});

const llm = (baseUrl: string) => ({ name: uniqueSlug('llm'), type: 'openai-compatible', config: { baseUrl, model: 'm' } });

describe('with private networks denied', () => {
  it('refuses private, loopback, link-local and mapped IP literals as baseUrl', async () => {
    for (const host of ['127.0.0.1', '10.1.2.3', '[::1]', '[::ffff:192.168.0.1]', '[fd00::5]', '0.0.0.0', 'localhost', 'api.localhost', '[::ffff:0:7f00:1]', '[2001::1]']) {
      const body = await gql(guarded, owner.token, CREATE_MODEL, { input: llm(`http://${host}:8080/v1`) });
      expect(body.errors?.[0]?.extensions, host).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config.baseUrl', reason: 'PRIVATE_ADDRESS' });
    }
    // Metadata and link-local addresses have a reason of their own: refused in every mode.
    for (const host of ['169.254.169.254', '[64:ff9b::169.254.169.254]', '[fe80::1]', '[::ffff:0:a9fe:a9fe]']) {
      const body = await gql(guarded, owner.token, CREATE_MODEL, { input: llm(`http://${host}:8080/v1`) });
      expect(body.errors?.[0]?.extensions, host).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config.baseUrl', reason: 'METADATA_ADDRESS' });
    }
    // A public address is accepted (nothing calls it here).
    expect((await gql(guarded, owner.token, CREATE_MODEL, { input: llm('https://93.184.215.14/v1') })).data.createModel.id).toEqual(expect.any(String));
  });

  it('refuses at connection time a host name that resolves into them: no request reaches the server', async () => {
    // Configured while the policy allowed it (a server on the same database with `allow`), then
    // called under `deny`: the name is resolved when connecting, and its address refused.
    const lenient = await startTestServer({ database: guarded.database, env: { SLUICE_EGRESS_PRIVATE_NETWORKS: 'allow' } });
    let setup: Awaited<ReturnType<typeof endpointOver>>;
    try {
      setup = await endpointOver(lenient, owner.token, DOCS, { model: llm(fake.baseUrl.replace('127.0.0.1', 'localhost')) });
    } finally {
      await lenient.close();
    }
    const before = fake.requests.length;
    const body = await queryEndpoint(guarded, owner.token, setup.reference, 'lock keeper', undefined, 'answer');
    expect(body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'PRIVATE_ADDRESS', attempts: 1 });
    expect(body.errors[0].message).toContain('SLUICE_EGRESS_PRIVATE_NETWORKS');
    expect(fake.requests.length).toBe(before);
  });
});

describe('a host name refused for what it resolves to', () => {
  it('reads to the caller as a name that does not resolve (no DNS oracle); the operator’s log says why', async () => {
    // This machine's own name resolves (hosts file or DNS) into a network `deny` refuses; a name
    // under .invalid resolves nowhere (RFC 6761). Names are stored unchecked: only a call resolves them.
    const name = hostname();
    const resolved = await lookup(name, { all: true });
    expect(resolved.every(({ address }) => refusesAddress(parsePrivateNetworkPolicy('deny'), address)), `${name} resolves to ${JSON.stringify(resolved)}`).toBe(true);
    const port = new URL(fake.baseUrl).port;
    const internal = await createModel(guarded, owner.token, llm(`http://${name}:${port}/v1`));
    const unknown = await createModel(guarded, owner.token, llm(`http://no-such-host-${process.pid}.invalid:${port}/v1`));
    const before = fake.requests.length;
    const answers = [];
    for (const model of [internal, unknown]) answers.push((await gql(guarded, owner.token, TEST_MODEL, { id: model.id })).data.testModel);
    expect(answers).toEqual([
      { ok: false, error: 'NETWORK: The model server could not be reached' },
      { ok: false, error: 'NETWORK: The model server could not be reached' },
    ]);
    expect(fake.requests.length).toBe(before);
    const refusals = guarded.logs.filter((line) => line.host === name && line.reason === 'PRIVATE_ADDRESS');
    expect(refusals[0]?.msg).toContain('refused by the egress guard');
  });
});

describe('with the model server’s network allowed by CIDR', () => {
  it('calls it, through the guarded connection', async () => {
    const allowed = await startTestServer({ database: guarded.database, env: { SLUICE_MODEL_PRIVATE_NETWORKS: '127.0.0.0/8,::1/128' } });
    try {
      fake.script({ deltas: ['The keeper ', 'opens the gates [1].'] });
      const setup = await endpointOver(allowed, owner.token, DOCS, { model: llm(fake.baseUrl.replace('127.0.0.1', 'localhost')) });
      const body = await queryEndpoint(allowed, owner.token, setup.reference, 'lock keeper', undefined, 'answer');
      expect(body.errors).toBeUndefined();
      expect(body.data.queryEndpoint.answer).toBe('The keeper opens the gates [1].');
      // Other private ranges stay refused.
      const refused = await gql(allowed, owner.token, CREATE_MODEL, { input: llm('http://10.0.0.1/v1') });
      expect(refused.errors[0].extensions.reason).toBe('PRIVATE_ADDRESS');
    } finally {
      await allowed.close();
    }
  });
});

describe('the policy', () => {
  it('classifies addresses', () => {
    const deny = parsePrivateNetworkPolicy('deny');
    expect(['8.8.8.8', '2606:4700::1111', '172.32.0.1'].filter((address) => refusesAddress(deny, address))).toEqual([]);
    const refused = ['172.16.0.1', '100.64.0.1', '192.168.1.1', 'fe80::1', '::ffff:127.0.0.1', '224.0.0.1', '::a00:1', '64:ff9b::a9fe:a9fe', '64:ff9b:1::1', '2002:a9fe:a9fe::1', 'fec0::1'];
    expect(refused.filter((address) => !refusesAddress(deny, address))).toEqual([]);
    // SIIT (::ffff:0:0:0/96) is the IPv4 address it carries, like IPv4-mapped in either spelling; Teredo (2001::/32) is refused.
    const translated = ['::ffff:0:7f00:1', '::ffff:0:127.0.0.1', '::ffff:0:a00:1', '::ffff:7f00:1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001::1'];
    expect(translated.map((address) => refusalOf(deny, address))).toEqual(translated.map(() => 'PRIVATE_ADDRESS'));
    expect(['::ffff:0:808:808', '::ffff:808:808'].filter((address) => refusesAddress(deny, address))).toEqual([]);
    expect(refusesAddress(parsePrivateNetworkPolicy('10.0.0.0/8'), '::ffff:0:a09:909')).toBe(false);
    expect(refusesAddress(parsePrivateNetworkPolicy('allow'), '127.0.0.1')).toBe(false);
    expect(refusesAddress(parsePrivateNetworkPolicy('10.0.0.0/8'), '10.9.9.9')).toBe(false);
  });

  it('refuses metadata and link-local addresses in every mode, whatever the exceptions', () => {
    // Teredo's client address is the last 32 bits inverted: 5601:5601 is 169.254.169.254.
    const metadata = ['169.254.169.254', '169.254.170.2', 'fe80::1', 'fd00:ec2::254', '100.100.100.200', '168.63.129.16', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', '::169.254.169.254', '::ffff:0:a9fe:a9fe', '::ffff:0:169.254.169.254', '2001:0:4136:e378:8000:63bf:5601:5601'];
    for (const policy of ['allow', 'deny', '169.254.0.0/16,fe80::/10']) {
      expect(metadata.filter((address) => refusalOf(parsePrivateNetworkPolicy(policy), address) !== 'METADATA_ADDRESS'), policy).toEqual([]);
    }
  });

  it('is allow outside production (see test/configuration.test.ts for production)', () => {
    expect(parseConfig({ NODE_ENV: 'test' }).models.privateNetworks).toEqual({ mode: 'allow' });
  });
});
