/**
 * The end-user CLI end to end: `node bin/sluice.js …` in a child process against the real
 * server, with its own config directory. Log-in (credentials file 0600, no password in it),
 * datasets, ingesting a folder with progress lines, querying an endpoint, API keys, the audit
 * tail, --json output that parses, and non-zero exit codes with one-line reasons.
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../src/db/free-port.js';
import { createModel, must, uniqueSlug } from '../support/endpoints.js';
import { runNode, type NodeRun } from '../support/process.js';
import { signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
const home = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
const configDir = join(home, 'config');

function sluice(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<NodeRun> {
  return runNode(['bin/sluice.js', ...args], { env: { HOME: home, SLUICE_CONFIG_DIR: configDir, ...options.env }, input: options.input });
}

/** A failure is one line on stderr naming the command. */
function expectOneLineFailure(run: NodeRun, code: number, pattern: RegExp) {
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code, stdout: '' });
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(pattern);
}

beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server);
});
afterAll(async () => {
  await server?.close();
});

// Each command is a child process (the compiled CLI, bin/sluice.js): most of a second each on a busy machine,
// and a test runs several in a row.
describe('sluice (client commands)', { timeout: 300_000 }, () => {
  it('refuses a wrong password with exit code 3, then logs in and keeps only tokens, mode 0600', async () => {
    const wrong = await sluice(['login', '--url', server.url, '--email', owner.email, '--password-stdin'], { input: 'not the password\n' });
    expectOneLineFailure(wrong, 3, /^sluice login: Invalid email or password\n$/);

    const run = await sluice(['login', '--url', server.url, '--email', owner.email, '--password-stdin'], { input: `${owner.password}\n` });
    expect(run).toMatchObject({ code: 0, stdout: `Logged in to ${server.url} as ${owner.email} (tenant ${owner.tenant.slug}, OWNER)\n` });
    const file = join(configDir, 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    const stored = readFileSync(file, 'utf8');
    expect(stored).not.toContain(owner.password);
    expect(JSON.parse(stored)).toMatchObject({ email: owner.email, tenant: owner.tenant.slug, session: { refreshToken: expect.any(String) } });

    const whoami = await sluice(['whoami', '--json']);
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ kind: 'USER', email: owner.email, role: 'OWNER', tenant: owner.tenant.slug });
  });

  it('creates and lists datasets; a bad slug exits 1 with the API error', async () => {
    expect((await sluice(['datasets', 'create', 'handbook', '--name', 'Handbook'])).stdout).toMatch(/^Created dataset handbook \(/);
    expectOneLineFailure(await sluice(['datasets', 'create', 'NO']), 1, /^sluice datasets create: BAD_USER_INPUT: .*\[request /);
    const list = await sluice(['datasets', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ slug: 'handbook', name: 'Handbook', documentCount: 0 })]);
    expect((await sluice(['datasets', 'list'])).stdout).toMatch(/^SLUG\s+NAME\s+DOCUMENTS.*\nhandbook\s+Handbook\s+0/);
  });

  it('ingests a folder, printing progress lines to the end, and reports the outcome', async () => {
    const folder = join(home, 'docs');
    mkdirSync(join(folder, 'guides'), { recursive: true });
    writeFileSync(join(folder, 'locks.md'), '# Locks\n\nThe lock keeper opens the sluice gates at dawn.\n');
    writeFileSync(join(folder, 'weirs.txt'), 'A weir holds the river back and keeps the level for boats.\n');
    writeFileSync(join(folder, 'guides', 'gates.html'), '<h1>Gates</h1><p>Each gate has a paddle the keeper winds by hand.</p>');
    writeFileSync(join(folder, 'photo.png'), 'not text');
    writeFileSync(join(folder, '.hidden.md'), 'never sent');

    const run = await sluice(['ingest', 'handbook', folder]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^Ingesting 3 files \(.* KB\) into handbook; skipped 1 of other formats\n/);
    const lines = run.stderr.trim().split('\n').slice(1);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(/^job 1 (QUEUED|PARSING|CHUNKING|INDEXING|COMPLETED)\s+\d+% \| docs \d\/3 \| chunks \d+ \| (-|[\d.]+) MB\/s \| (ETA \S+|done)$/);
    expect(lines.at(-1)).toMatch(/^job 1 COMPLETED\s+100% \| docs 3\/3 \| chunks 3 \|/);
    expect(run.stdout).toBe('Ingested 3 inputs, 3 chunks into handbook (1 jobs)\n');

    const again = await sluice(['ingest', 'handbook', join(folder, 'locks.md'), '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ dataset: 'handbook', ok: true, jobs: [{ stage: 'COMPLETED', documentsDone: 1, documentsFailed: 0 }], failures: [] });

    expectOneLineFailure(await sluice(['ingest', 'handbook', join(home, 'missing')]), 2, /no such file or folder/);
    expectOneLineFailure(await sluice(['ingest', 'no-such-dataset', folder]), 1, /no dataset "no-such-dataset"/);
    // By id: one that is no id, and another tenant's, are both simply not there.
    expectOneLineFailure(await sluice(['ingest', 'Not-An-Id', folder]), 1, /no dataset "Not-An-Id"/);
    const stranger = await signUp(server);
    const { createDataset } = await must(server, stranger.accessToken, 'mutation { createDataset(input: { name: "Theirs", slug: "theirs" }) { id } }');
    expectOneLineFailure(await sluice(['ingest', createDataset.id, folder]), 1, new RegExp(`no dataset "${createDataset.id.replace(/[+/=]/g, '\\$&')}"`));
  });

  it('exits 1 when an input failed, naming each failed input and its reason, in text and --json', async () => {
    const folder = join(home, 'mixed');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'tides.md'), '# Tides\n\nHigh water comes twice a day at the harbour mouth.\n');
    // Fails where documents are parsed (in the job), not at upload.
    writeFileSync(join(folder, 'broken.json'), '{ "title": "Broken", ');

    const run = await sluice(['ingest', 'handbook', folder]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^Ingestion ended with problems: 2 inputs, \d+ chunks into handbook \(1 jobs\); 1 failed:\n {2}broken\.json: \S.*\n$/);
    expect(run.stderr.trim().split('\n').at(-1)).toBe('sluice ingest: 1 of 2 inputs failed');

    const json = await sluice(['ingest', 'handbook', folder, '--json']);
    expect(json.code).toBe(1);
    const outcome = JSON.parse(json.stdout);
    expect(outcome).toMatchObject({ dataset: 'handbook', ok: false, jobs: [{ stage: 'COMPLETED', documentsDone: 2, documentsFailed: 1 }] });
    expect(outcome.failures).toEqual([{ jobId: outcome.jobs[0].id, index: expect.any(Number), name: 'broken.json', reason: expect.stringMatching(/\S/) }]);
  });

  it('asks an endpoint, printing passages and the answer, or JSON', async () => {
    const { datasets } = await must(server, owner.accessToken, '{ datasets(first: 1) { edges { node { id } } } }');
    const model = await createModel(server, owner.accessToken, { name: uniqueSlug('extractive'), type: 'extractive' });
    const { createEndpoint } = await must(server, owner.accessToken, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { reference } }', {
      input: { name: 'Locks', slug: uniqueSlug('locks'), modelId: model.id, datasetIds: [datasets.edges[0].node.id] },
    });
    const run = await sluice(['query', createEndpoint.reference, 'lock', 'keeper']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\[1\] Locks \(score [\d.]+\)\n {4}.*lock keeper opens the sluice gates/);
    expect(run.stdout).toMatch(/\nAnswer: .*lock keeper.*\n\nSources: \[1\] Locks(, \[2\] guides\/gates\.html)?\n\(\d+ ms\)\n$/);
    const json = JSON.parse((await sluice(['query', createEndpoint.reference, 'lock keeper', '--json'])).stdout);
    expect(json).toMatchObject({ answer: expect.stringContaining('lock keeper'), passages: [expect.objectContaining({ documentTitle: 'Locks' }), ...json.passages.slice(1)] });
    expectOneLineFailure(await sluice(['query', `${owner.tenant.slug}/nowhere`, 'anything']), 1, /NOT_FOUND/);
  });

  it('creates, lists and revokes API keys; a key works through SLUICE_API_KEY', async () => {
    const created = await sluice(['keys', 'create', '--name', 'ci', '--scopes', 'read,write', '--expires-in-days', '7']);
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(created.stderr).toMatch(/^Created API key ci \(.*\), scopes READ, WRITE, expires 20/);
    const asKey = await sluice(['whoami', '--json'], { env: { SLUICE_API_KEY: secret } });
    expect(JSON.parse(asKey.stdout)).toMatchObject({ kind: 'API_KEY', tenant: owner.tenant.slug, scopes: ['READ', 'WRITE'] });
    const listed = JSON.parse((await sluice(['keys', 'list', '--json'])).stdout) as { id: string; name: string }[];
    const key = listed.find((candidate) => candidate.name === 'ci')!;
    expect(key).toMatchObject({ scopes: ['READ', 'WRITE'], revokedAt: null });
    expect((await sluice(['keys', 'revoke', key.id])).stdout).toBe(`Revoked API key ci (${key.id})\n`);
    expectOneLineFailure(await sluice(['whoami'], { env: { SLUICE_API_KEY: secret } }), 3, /sluice login/);
    expectOneLineFailure(await sluice(['keys', 'create', '--name', 'x', '--scopes', 'root']), 2, /unknown scope ROOT/);
  });

  it('tails the audit trail as JSON lines', async () => {
    const run = await sluice(['audit', 'tail', '-n', '5', '--json']);
    expect(run.code).toBe(0);
    const events = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(events).toHaveLength(5);
    expect(events.every((event) => typeof event.action === 'string' && typeof event.hash === 'string')).toBe(true);
    // Oldest first, as `tail` reads.
    expect(events.map((event) => BigInt(event.sequence))).toEqual([...events.map((event) => BigInt(event.sequence))].sort((a, b) => (a < b ? -1 : 1)));
  });

  it('exits 2 for usage errors and 4 when the server is unreachable', async () => {
    // A usage error: the reason, then the command's usage line.
    const bogus = await sluice(['datasets', 'list', '--bogus']);
    expect({ code: bogus.code, stdout: bogus.stdout }).toEqual({ code: 2, stdout: '' });
    expect(bogus.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sluice datasets list: Unknown option '--bogus'/), 'Usage: sluice datasets list [--name-contains <text>]']);
    // Nothing listens there (a port just free, not one fetch refuses outright such as 9).
    const nowhere = `http://127.0.0.1:${await findFreePort()}`;
    const unreachable = new RegExp(`Cannot reach ${nowhere.replace(/[.]/g, '\\.')}/graphql: .*ECONNREFUSED`);
    expectOneLineFailure(await sluice(['whoami', '--url', nowhere]), 4, unreachable);
    // A subscription's transport failing is the same NETWORK_ERROR (it was exit 1, "unexpected error").
    expectOneLineFailure(await sluice(['query', `${owner.tenant.slug}/anything`, 'question', '--url', nowhere]), 4, unreachable);
    // An empty SLUICE_TIMEOUT is an unset one (the default deadline); an empty --timeout= is a mistake.
    expect(await sluice(['catalog', '--url', server.url, '--json'], { env: { SLUICE_TIMEOUT: '' } })).toMatchObject({ code: 0, stderr: '' });
    expectOneLineFailure(await sluice(['catalog', '--url', server.url, '--timeout=']), 2, /--timeout must be a number of seconds/);
    const help = await sluice(['ingest', '--help']);
    expect(help).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: sluice ingest <dataset> <files or folders\.\.\.>/) });
  });

  it('names an unreadable credentials file, and logout removes it', async () => {
    const other = join(home, 'corrupt-config');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'credentials.json'), '{ not json', { mode: 0o600 });
    const env = { SLUICE_CONFIG_DIR: other };
    expectOneLineFailure(await sluice(['whoami', '--url', server.url], { env }), 3, /credentials\.json is unreadable .*run `sluice logout`/);
    expect(await sluice(['logout'], { env })).toMatchObject({ code: 0, stdout: `Removed the unreadable ${join(other, 'credentials.json')}\n` });
    expect(() => statSync(join(other, 'credentials.json'))).toThrow();
    expect((await sluice(['logout'], { env })).stdout).toBe('Not logged in\n');
  });

  it('logs out: the session ends on the server and the file is gone', async () => {
    const { session } = JSON.parse(readFileSync(join(configDir, 'credentials.json'), 'utf8'));
    expect((await sluice(['logout'])).stdout).toBe(`Logged out of ${server.url}\n`);
    expect(() => statSync(join(configDir, 'credentials.json'))).toThrow();
    const { body } = await server.graphql('{ viewer { kind } }', { token: session.accessToken });
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expectOneLineFailure(await sluice(['whoami', '--url', server.url]), 3, /Not logged in/);
  });
});
