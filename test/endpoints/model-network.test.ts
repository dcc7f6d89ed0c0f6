/**
 * The guard against server-side request forgery through a model's baseUrl
 * (SLUICE_EGRESS_PRIVATE_NETWORKS, deny by default in production; src/platform/egress): private
 * and reserved IP literals and `localhost` are refused when the model is configured; a host
 * name that resolves into them is refused when the connection is made, before any byte
 * reaches it; and CIDRs the operator lists are let through. fake-openai is the model server
 * double. test/hardening/egress.test.ts covers the guard for identity providers and metadata.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { parsePrivateNetworkPolicy, refusalOf, refusesAddress } from '../../src/platform/egress/policy.js';
import { createModel, endpointOver, gql, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];
const CREATE_MODEL = 'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }';

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
    for (const host of ['127.0.0.1', '10.1.2.3', '[::1]', '[::ffff:192.168.0.1]', '[fd00::5]', '0.0.0.0', 'localhost', 'api.localhost']) {
      const body = await gql(guarded, owner.token, CREATE_MODEL, { input: llm(`http://${host}:8080/v1`) });
      expect(body.errors?.[0]?.extensions, host).toMatchObject({ code: 'BAD_USER_INPUT', field: 'config.baseUrl', reason: 'PRIVATE_ADDRESS' });
    }
    // Metadata and link-local addresses have a reason of their own: refused in every mode.
    for (const host of ['169.254.169.254', '[64:ff9b::169.254.169.254]', '[fe80::1]']) {
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
    expect(refusesAddress(parsePrivateNetworkPolicy('allow'), '127.0.0.1')).toBe(false);
    expect(refusesAddress(parsePrivateNetworkPolicy('10.0.0.0/8'), '10.9.9.9')).toBe(false);
  });

  it('refuses metadata and link-local addresses in every mode, whatever the exceptions', () => {
    const metadata = ['169.254.169.254', '169.254.170.2', 'fe80::1', 'fd00:ec2::254', '100.100.100.200', '168.63.129.16', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', '::169.254.169.254'];
    for (const policy of ['allow', 'deny', '169.254.0.0/16,fe80::/10']) {
      expect(metadata.filter((address) => refusalOf(parsePrivateNetworkPolicy(policy), address) !== 'METADATA_ADDRESS'), policy).toEqual([]);
    }
  });

  it('is allow outside production (see test/configuration.test.ts for production)', () => {
    expect(parseConfig({ NODE_ENV: 'test' }).models.privateNetworks).toEqual({ mode: 'allow' });
  });
});
