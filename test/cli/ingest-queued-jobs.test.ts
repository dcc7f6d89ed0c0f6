/**
 * `sluice ingest` of a folder needing more jobs than the tenant may have queued or running
 * (SLUICE_INGEST_MAX_QUEUED_JOBS, here 2): the server refuses the third batch RATE_LIMITED,
 * `reason: QUEUED_JOBS`. The CLI used to hand that to the client's blind retries (three, 30 s
 * apart) and then stop with the rest of the folder unsent; now it says it waits, sends each
 * refused batch again once one of its own jobs has ended, and keeps at most `max` in flight.
 *
 * The tenant's one running slot (SLUICE_WORKER_CONCURRENCY 2 − 1) is held by the test, as a
 * job running elsewhere would hold it, so the first two jobs stay queued until the CLI has been
 * refused and said so; then the slot is let go and the worker's sweep runs them. Through the
 * compiled CLI, the real server, its inline worker and PostgreSQL; every file must end up as
 * exactly one document, and each job must hold one file.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliUser, type CliUser } from '../support/cli.js';
import { createDataset } from '../support/ingestion.js';
import { must } from '../support/endpoints.js';
import { createApiKey, signUp, tenantIdOf, type SignedUp } from '../support/identity.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';

const MAX_QUEUED = 2;
const WAITING = /^Waiting: the tenant has the most ingestion jobs it may have queued or running \(2\)/;
let server: TestServer;
let owner: SignedUp;
let user: CliUser;
const holds = new Set<pg.Client>();

beforeAll(async () => {
  server = await startTestServer({
    env: { SLUICE_WORKER_CONCURRENCY: '2', SLUICE_WORKER_HEARTBEAT_MS: '200', SLUICE_INGEST_MAX_QUEUED_JOBS: String(MAX_QUEUED) },
  });
  owner = await signUp(server);
  user = cliUser('queued-jobs');
  await user.logIn(server.url, owner);
});
afterAll(async () => {
  for (const hold of holds) await hold.end().catch(() => undefined);
  await server?.close();
});

/** Takes the tenant's one slot (as src/domains/ingestion/tenant-slots.ts names it); resolves to letting it go. */
async function holdSlot(): Promise<() => Promise<void>> {
  const hold = new pg.Client({ connectionString: server.database.ownerUrl });
  await hold.connect();
  holds.add(hold);
  await hold.query('select pg_advisory_lock(hashtextextended($1, 0))', [`ingestion-tenant-slot:${tenantIdOf(owner)}:0`]);
  return async () => {
    await hold.end();
    holds.delete(hold);
  };
}

/** Six files, each its own batch with --batch-mb 0: six jobs, three times the cap. */
function folderOfSix(label: string): { folder: string; names: string[] } {
  const folder = mkdtempSync(join(tmpdir(), `sluice-${label}-`));
  mkdirSync(join(folder, 'sub'));
  const names = ['a.md', 'b.txt', 'c.md', 'd.txt', 'e.md', 'sub/f.md'];
  names.forEach((name, index) => writeFileSync(join(folder, name), `# Note ${index}\n\nLock ${index} of the canal is kept by keeper number ${index}.\n`));
  return { folder, names };
}

async function datasetState(id: string) {
  const data = await must(
    server,
    owner.accessToken,
    `query($id: ID!) {
      dataset(id: $id) { documents(first: 100) { edges { node { sourceKey } } } }
      ingestionJobs(datasetId: $id, first: 100) { edges { node { id stage progress { documentsTotal documentsDone } } } }
    }`,
    { id },
  );
  return {
    sourceKeys: data.dataset.documents.edges.map((edge: { node: { sourceKey: string } }) => edge.node.sourceKey).sort() as string[],
    jobs: data.ingestionJobs.edges.map((edge: { node: { id: string; stage: string; progress: { documentsTotal: number; documentsDone: number } } }) => edge.node),
  };
}

describe('sluice ingest past the tenant’s queued-jobs cap', { timeout: 240_000 }, () => {
  it('waits for its own jobs when refused QUEUED_JOBS, then sends the rest: every file ingested once, exit 0', async () => {
    const dataset = await createDataset(server, owner.accessToken);
    const { folder, names } = folderOfSix('capped');
    const release = await holdSlot();
    const run = user.start(['ingest', dataset.slug, folder, '--batch-mb', '0', '--url', server.url]);
    // Refused with two of its jobs queued (the slot is held, so neither can end): it says so and waits.
    expect(await run.stderrLine((line) => WAITING.test(line))).toMatch(/; the other 4 files go as this upload's 2 jobs end$/);
    await release();
    const done = await run.done;
    expect({ code: done.code, stdout: done.stdout }).toEqual({ code: 0, stdout: `Ingested 6 inputs, 6 chunks into ${dataset.slug} (6 jobs)\n` });
    expect(done.stderr).not.toMatch(/RATE_LIMITED/);

    const state = await datasetState(dataset.id);
    expect(state.sourceKeys).toEqual([...names].sort());
    expect(state.jobs.map((job: { stage: string; progress: { documentsTotal: number } }) => [job.stage, job.progress.documentsTotal])).toEqual(names.map(() => ['COMPLETED', 1]));
  });

  it('with --no-wait, follows only its oldest job for room, then returns once all are queued; each file ingested once', async () => {
    const dataset = await createDataset(server, owner.accessToken);
    const { folder, names } = folderOfSix('capped-no-wait');
    const release = await holdSlot();
    const run = user.start(['ingest', dataset.slug, folder, '--batch-mb', '0', '--no-wait', '--json', '--url', server.url]);
    await run.stderrLine((line) => WAITING.test(line));
    await release();
    const done = await run.done;
    expect(done.code).toBe(0);
    const printed = JSON.parse(done.stdout) as { dataset: string; jobs: { id: string }[] };
    expect(printed.jobs).toHaveLength(6);

    const state = await pollUntil(
      () => datasetState(dataset.id),
      (now) => now.jobs.length === 6 && now.jobs.every((job: { stage: string }) => job.stage === 'COMPLETED'),
      { timeoutMs: 60_000, intervalMs: 200, failure: (now) => `jobs: ${JSON.stringify(now.jobs)}` },
    );
    expect(state.sourceKeys).toEqual([...names].sort());
    expect(new Set(state.jobs.map((job: { id: string }) => job.id))).toEqual(new Set(printed.jobs.map((job) => job.id)));
  });

  it('while waiting, a refusal for another reason stops it with that error and says which files were sent', async () => {
    const dataset = await createDataset(server, owner.accessToken);
    const { folder } = folderOfSix('capped-refused');
    const created = (await createApiKey(server, owner.accessToken, { name: 'capped', scopes: ['READ', 'WRITE'] })).body.data.createApiKey;
    const release = await holdSlot();
    const run = user.start(['ingest', dataset.slug, folder, '--batch-mb', '0', '--url', server.url], { SLUICE_API_KEY: created.secret });
    await run.stderrLine((line) => WAITING.test(line));
    await must(server, owner.accessToken, 'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: created.apiKey.id });
    await release();
    const done = await run.done;
    expect({ code: done.code, stdout: done.stdout }).toEqual({ code: 3, stdout: '' });
    const lines = done.stderr.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^2 of 6 files were sent before this, as jobs \S+, \S+; those jobs go on$/));
    expect(lines.at(-1)).toMatch(/^sluice ingest: .*(revoked|API key|credential)/i);
  });
});
