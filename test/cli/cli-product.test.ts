/**
 * The product from the terminal, first half: `sluice init` to a streamed answer, ingesting nested
 * JSON, models, endpoints (create, publish, list, show, catalog, delete), policies, the
 * decision log and usage. Each command is `node bin/sluice.js …` in a child process against the
 * real server over HTTP and WebSocket, with its own config directory; --json output is parsed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/db/free-port.js';
import { cliUser, expectFailure } from '../support/cli.js';
import { signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
const { home, sluice, json, logIn } = cliUser('cli-product');

beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server);
  await logIn(server.url, owner);
});
afterAll(async () => {
  await server?.close();
});

describe('sluice: the product from the terminal', { timeout: 300_000 }, () => {
  it('init makes the built-in model, a dataset and an endpoint once; ingest --json-text-field; the answer streams', async () => {
    const first = await sluice(['init']);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(
      [
        'Created model built-in (extractive)',
        'Created dataset docs',
        `Created endpoint ${owner.tenant.slug}/docs`,
        '',
        'Next:',
        '  sluice ingest docs <files or folders>',
        `  sluice query ${owner.tenant.slug}/docs "<your question>"`,
        '',
      ].join('\n'),
    );
    const again = await json(['init']);
    expect(again).toMatchObject({ tenant: owner.tenant.slug, model: { name: 'built-in' }, dataset: { slug: 'docs' }, endpoint: { reference: `${owner.tenant.slug}/docs` }, created: [] });
    expect((await json(['models', 'list'])).map((model: { name: string }) => model.name)).toEqual(['built-in']);

    const file = join(home, 'locks.jsonl');
    writeFileSync(file, `${JSON.stringify({ title: 'Locks', body: { content: 'The lock keeper opens the sluice gates at dawn.' } })}\n`);
    const ingest = await sluice(['ingest', 'docs', file, '--json-text-field', 'body.content', '--json']);
    expect(ingest.code).toBe(0);
    expect(JSON.parse(ingest.stdout)).toMatchObject({ ok: true, jobs: [{ stage: 'COMPLETED', documentsDone: 1, chunks: 1 }] });
    expect(await json(['documents', 'list', 'docs'])).toEqual([expect.objectContaining({ title: 'Locks', sourceKey: expect.stringMatching(/^locks\.jsonl/), chunkCount: 1 })]);
    expect((await sluice(['documents', 'list', 'docs'])).stdout).toMatch(/^TITLE\s+SOURCE\s+TYPE\s+SIZE\s+CHUNKS\s+ADDED\nLocks\s+locks\.jsonl/);

    const asked = await sluice(['query', `${owner.tenant.slug}/docs`, 'When does the lock keeper open the gates?']);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toMatch(/\nAnswer: The lock keeper opens the sluice gates at dawn\. \[1\]\n\nSources: \[1\] Locks\n/);
  });

  it('models: create with a configuration, list, types; a bad configuration is a usage error', async () => {
    const created = await json(['models', 'create', 'terse', '--type', 'extractive', '--config', '{"maxSentences": 1}']);
    expect(created).toMatchObject({ name: 'terse', type: 'extractive', kind: 'CHAT', config: { maxSentences: 1 }, apiKeySet: false });
    expect((await sluice(['models', 'list'])).stdout).toMatch(/^NAME\s+TYPE\s+KIND\s+API KEY.*\nbuilt-in\s+extractive\s+chat\s+-/);
    expect((await json(['models', 'types'])).map((type: { name: string }) => type.name)).toContain('openai-compatible');
    expectFailure(await sluice(['models', 'create', 'x', '--type', 'extractive', '--config', '{maxSentences']), 2, /^sluice models create: --config is not JSON/);
    expectFailure(await sluice(['models', 'create', 'x', '--type', 'extractive', '--config', '{"maxSentences": 99}']), 1, /BAD_USER_INPUT/);
    expectFailure(await sluice(['models', 'create', 'x']), 2, /--type is required/);

    expect(await json(['models', 'test', 'terse'])).toMatchObject({ name: 'terse', ok: true, latencyMs: 0, error: null });
    // A chat model whose server is not there (a port just free): the test fails with the reason, exit 1.
    const nowhere = `http://127.0.0.1:${await findFreePort()}/v1`;
    expect((await sluice(['models', 'create', 'absent', '--type', 'openai-compatible', '--config', JSON.stringify({ baseUrl: nowhere, model: 'small' })])).code).toBe(0);
    const failed = await sluice(['models', 'test', 'absent']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^absent failed: \S.*\n$/);
    expectFailure(await sluice(['models', 'test', 'missing']), 1, /no model "missing"/);
  });

  it('endpoints: create, show, list, publish into the catalog, unpublish, delete only when confirmed', async () => {
    const created = await json(['endpoints', 'create', 'gates', '--dataset', 'docs', '--model', 'terse', '--top-k', '3']);
    expect(created).toMatchObject({ reference: `${owner.tenant.slug}/gates`, published: false, model: { name: 'terse' }, datasets: [{ slug: 'docs' }], retrieval: { mode: 'KEYWORD', engine: 'KEYWORD_BM25', topK: 3 } });
    expectFailure(await sluice(['endpoints', 'create', 'other', '--dataset', 'docs']), 2, /which model\? --model one of (built-in|terse|absent)(, (built-in|terse|absent)){2}\n/);
    expectFailure(await sluice(['endpoints', 'create', 'other', '--dataset', 'nowhere', '--model', 'terse']), 1, /no dataset "nowhere"/);

    const shown = await sluice(['endpoints', 'show', 'gates']);
    expect(shown.stdout).toMatch(new RegExp(`^${owner.tenant.slug}/gates  gates\n  visibility  unpublished \\(your tenant only\\)\n  model       terse \\(extractive\\)\n  datasets    docs\n  retrieval   keyword \\(KEYWORD_BM25\\), top 3\n`));
    const listed = await json(['endpoints', 'list']);
    expect(listed.map((endpoint: { slug: string }) => endpoint.slug).sort()).toEqual(['docs', 'gates']);

    expect((await sluice(['endpoints', 'publish', 'gates', '--listed'])).stdout).toBe(`Published ${owner.tenant.slug}/gates, listed in the catalog\n`);
    const catalog = await json(['catalog', owner.tenant.slug]);
    expect(catalog).toEqual([expect.objectContaining({ address: `${owner.tenant.slug}/gates`, modelKind: 'extractive', retrievalMode: 'KEYWORD' })]);
    expect((await sluice(['endpoints', 'list'])).stdout).toMatch(new RegExp(`\n${owner.tenant.slug}/gates\\s+gates\\s+terse\\s+docs\\s+keyword\\s+listed`));
    expect(await json(['endpoints', 'unpublish', 'gates'])).toMatchObject({ published: false, listed: false });
    expect(await json(['catalog', owner.tenant.slug])).toEqual([]);

    // Not at a terminal: deleting needs --yes, and nothing is deleted without it.
    expectFailure(await sluice(['endpoints', 'delete', 'gates']), 2, /this deletes endpoint .*\/gates for good: pass --yes to confirm/);
    expect((await sluice(['endpoints', 'delete', 'gates', '--yes'])).stdout).toBe(`Deleted endpoint ${owner.tenant.slug}/gates\n`);
    expectFailure(await sluice(['endpoints', 'show', 'gates']), 1, /no endpoint "gates" in your tenant/);
  });

  it('policies refuse a caller; decisions says why; edit, list and delete them; usage counts it', async () => {
    const policy = await json(['policies', 'create', 'docs', '--type', 'access', '--config', JSON.stringify({ mode: 'deny', patterns: [owner.email] })]);
    expect(policy).toMatchObject({ type: 'access', enabled: true, endpoint: { slug: 'docs' }, configuration: { mode: 'deny', patterns: [owner.email] } });
    expectFailure(await sluice(['policies', 'create', 'docs', '--type', 'access']), 2, /--config is required/);

    expectFailure(await sluice(['query', `${owner.tenant.slug}/docs`, 'lock keeper']), 1, /POLICY_DENIED/);
    const denied = await json(['decisions', '--denied', '--endpoint', 'docs']);
    expect(denied).toEqual([expect.objectContaining({ decision: 'DENY', endpointSlug: 'docs', policyType: 'access', reasonCode: 'ACCESS_DENIED', caller: owner.email })]);
    const table = await sluice(['decisions', '--denied', '--since', '1h']);
    expect(table.stdout).toMatch(/^TIME\s+ENDPOINT\s+CALLER\s+DECISION\s+POLICY\s+RULE\s+REASON\n\S+\s+docs\s+\S+@\S+\s+DENY\s+access\s+/);
    expectFailure(await sluice(['decisions', '--since', 'yesterday-ish']), 2, /--since must be a date/);

    const others = { mode: 'deny', patterns: ['someone-else@example.com'] };
    expect(await json(['policies', 'edit', policy.id, '--config', JSON.stringify(others)])).toMatchObject({ id: policy.id, enabled: true, configuration: others });
    expect((await sluice(['query', `${owner.tenant.slug}/docs`, 'lock keeper'])).code).toBe(0);
    expect(await json(['decisions', '--allowed', '-n', '1'])).toEqual([expect.objectContaining({ decision: 'ALLOW', endpointSlug: 'docs', caller: owner.email })]);
    expect(await json(['policies', 'edit', policy.id, '--disable'])).toMatchObject({ id: policy.id, enabled: false });
    expect(await json(['policies', 'list', 'docs'])).toEqual([expect.objectContaining({ id: policy.id, type: 'access', enabled: false, configuration: others })]);
    // A read-only key lists policies and models without what only ADMIN reads (config:read), instead of failing on it.
    const reader = { SLUICE_API_KEY: (await sluice(['keys', 'create', '--name', 'reader', '--scopes', 'read'])).stdout.trim() };
    expect(await json(['policies', 'list', 'docs'], reader)).toEqual([{ id: policy.id, type: 'access', enabled: false, createdAt: expect.any(String), updatedAt: expect.any(String), endpoint: { id: expect.any(String), slug: 'docs' } }]);
    expect((await sluice(['policies', 'list', 'docs'], { env: reader })).stdout).toMatch(/\saccess\s+no\s+\(ADMIN only\)\n$/);
    const readersModels = await json(['models', 'list'], reader);
    expect(readersModels.map((model: { name: string }) => model.name)).toEqual(expect.arrayContaining(['built-in', 'terse']));
    expect(readersModels.filter((model: Record<string, unknown>) => 'config' in model || 'apiKeyLast4' in model)).toEqual([]);
    expect((await json(['models', 'list'])).map((model: { name: string; config: unknown }) => [model.name, model.config])).toContainEqual(['terse', { maxSentences: 1 }]);
    expectFailure(await sluice(['policies', 'edit', policy.id]), 2, /nothing to change/);
    expect((await sluice(['policies', 'delete', policy.id])).stdout).toBe(`Deleted policy ${policy.id}\n`);
    expect(await json(['policies', 'list'])).toEqual([]);
    expect((await json(['policies', 'types'])).map((type: { name: string }) => type.name)).toEqual(expect.arrayContaining(['access', 'rate_limit']));

    const byEndpoint = await json(['usage', '--by', 'endpoint']);
    expect(byEndpoint).toEqual([expect.objectContaining({ key: 'docs', queries: expect.any(Number), denials: 1 })]);
    expect(byEndpoint[0].queries).toBeGreaterThanOrEqual(2);
    expect((await sluice(['usage', '--by', 'caller'])).stdout).toMatch(new RegExp(`\n${owner.email.replace(/[.+]/g, '\\$&')}\\s+\\d+\\s+1\\s`));
    expect(await json(['usage', '--endpoint', `${owner.tenant.slug}/docs`])).toMatchObject({ denials: 1, allowances: [] });
    expectFailure(await sluice(['usage', '--by', 'week']), 2, /--by must be endpoint, caller or day/);
  });
});
