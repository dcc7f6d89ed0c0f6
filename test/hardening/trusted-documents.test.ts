/**
 * Persisted-operations-only mode (SLUICE_TRUSTED_DOCUMENTS) over HTTP and graphql-ws: trusted
 * documents run by id, anything else is refused with a code; a bad documents file stops
 * start-up with exit code 78.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../../src/config.js';
import { developmentEnv, spawnSluice } from '../support/process.js';
import { seedTenant, type SeededTenant } from '../support/seed.js';
import { startTestServer, type TestServer } from '../support/server.js';

const VIEWER = 'query Viewer { viewer { kind tenant { slug } } }';
const HEARTBEAT = 'subscription Beat { heartbeat(intervalSeconds: 1, count: 2) { sequence } }';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let dir: string;
let server: TestServer;
let tenant: SeededTenant;
let token: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sluice-trusted-'));
  const file = path.join(dir, 'persisted-documents.json');
  await writeFile(file, JSON.stringify({ [sha256(VIEWER)]: VIEWER, [sha256(HEARTBEAT)]: HEARTBEAT }));
  server = await startTestServer({ env: { SLUICE_TRUSTED_DOCUMENTS: file } });
  tenant = await seedTenant(server.database.ownerUrl);
  token = await server.tokenFor(tenant, tenant.users[0]!);
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const send = (body: Record<string, unknown>) =>
  fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  }).then(async (response) => ({ status: response.status, body: (await response.json()) as any }));

describe('over HTTP', () => {
  it('runs a trusted document named by its persistedQuery hash or by documentId', async () => {
    const expected = { data: { viewer: { kind: 'USER', tenant: { slug: tenant.slug } } } };
    expect(await send({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256(VIEWER) } } })).toEqual({ status: 200, body: expected });
    expect(await send({ documentId: `sha256:${sha256(VIEWER)}` })).toEqual({ status: 200, body: expected });
  });

  it('refuses query text, even of a trusted document, with TRUSTED_DOCUMENT_REQUIRED', async () => {
    for (const query of ['{ viewer { kind } }', VIEWER]) {
      const { status, body } = await send({ query });
      expect(status).toBe(400);
      expect(body.data).toBeUndefined();
      expect(body.errors[0].extensions.code).toBe('TRUSTED_DOCUMENT_REQUIRED');
    }
  });

  it('refuses an unknown id with TRUSTED_DOCUMENT_NOT_FOUND, and a missing one with TRUSTED_DOCUMENT_REQUIRED', async () => {
    const unknown = await send({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ viewer { kind } }') } } });
    expect([unknown.status, unknown.body.errors[0].extensions.code]).toEqual([400, 'TRUSTED_DOCUMENT_NOT_FOUND']);
    const missing = await send({ variables: {} });
    expect([missing.status, missing.body.errors[0].extensions.code]).toEqual([400, 'TRUSTED_DOCUMENT_REQUIRED']);
  });
});

describe('over graphql-ws', () => {
  async function collect(payload: { query: string; extensions?: Record<string, unknown> }) {
    const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
    const results: any[] = [];
    try {
      for await (const result of client.iterate(payload)) results.push(result);
    } catch (errors) {
      // Refused before execution: graphql-ws sends an `error` message, which the client throws.
      results.push({ errors });
    } finally {
      await client.dispose();
    }
    return results;
  }

  it('streams a trusted subscription named by its hash', async () => {
    const results = await collect({ query: '', extensions: { persistedQuery: { version: 1, sha256Hash: sha256(HEARTBEAT) } } });
    expect(results.map((result) => result.data?.heartbeat?.sequence)).toEqual([1, 2]);
  });

  it('refuses query text and unknown ids with the same codes', async () => {
    const text = await collect({ query: HEARTBEAT });
    expect(text[0].errors[0].extensions.code).toBe('TRUSTED_DOCUMENT_REQUIRED');
    const unknown = await collect({ query: '', extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } });
    expect(unknown[0].errors[0].extensions.code).toBe('TRUSTED_DOCUMENT_NOT_FOUND');
  });
});

describe('the documents file', () => {
  const loadWith = async (content: string) => {
    const file = path.join(dir, `bad-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, content);
    return loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), SLUICE_MASTER_KEY: Buffer.alloc(32, 1).toString('base64'), SLUICE_DATA_DIR: dir, DATABASE_URL: 'postgres://a@b/c', DATABASE_APP_URL: 'postgres://a@b/c', SLUICE_TRUSTED_DOCUMENTS: file }).then(
      () => [],
      (error) => (error instanceof ConfigError ? error.issues : Promise.reject(error)),
    );
  };

  it('is checked at start-up, naming each bad entry', async () => {
    expect(await loadWith('not json')).toEqual([expect.stringMatching(/^SLUICE_TRUSTED_DOCUMENTS: cannot read .* \(not valid JSON\)$/)]);
    expect(await loadWith('["{ a }"]')).toEqual([expect.stringMatching(/must hold a JSON object/)]);
    expect(await loadWith(JSON.stringify({ good: '{ viewer { kind } }', broken: '{ viewer {', empty: '' }))).toEqual([
      expect.stringMatching(/^SLUICE_TRUSTED_DOCUMENTS: entry "broken" does not parse: Syntax Error/),
      'SLUICE_TRUSTED_DOCUMENTS: entry "empty" is not a GraphQL document string',
    ]);
    expect(await loadWith(JSON.stringify({ good: '{ viewer { kind } }' }))).toEqual([]);
  });

  it('that is missing stops `sluice serve` with exit code 78', async () => {
    const proc = spawnSluice(['serve'], developmentEnv(dir, { SLUICE_TRUSTED_DOCUMENTS: path.join(dir, 'missing.json') }));
    expect(await proc.exit).toBe(78);
    expect(proc.output()).toMatch(/SLUICE_TRUSTED_DOCUMENTS: cannot read ".*missing\.json" \(ENOENT\)/);
  });
});
