/**
 * `sluice ingest <dataset> <folder> --watch --json` as a child process (the compiled CLI)
 * against the real server: the first round sends the folder; a file added, one changed and
 * one removed are each seen and synced (the removed file's documents deleted, a JSON file's
 * records included); unchanged files are not sent again, not even by a new watcher started
 * later (what was sent is remembered in the config directory); SIGINT ends it with exit 0.
 * A dataset is shared: a document another member wrote under a watched file's source key (after
 * the watcher sent it, or before, with the same content) outlives the file's removal, and so do
 * the documents of files a watcher remembered before it recorded document ids.
 * Rounds are awaited as the JSON lines the watcher prints, never by sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { must } from '../support/endpoints.js';
import { addMember, createApiKey, signUp, type SignedUp } from '../support/identity.js';
import { pollUntil } from '../support/poll.js';
import { childEnv } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedUp;
const home = mkdtempSync(join(tmpdir(), 'sluice-watch-'));
const folder = join(home, 'notes');

interface Round {
  dataset: string;
  added: string[];
  changed: string[];
  removed: string[];
  documentsDeleted: number;
  documentsKept: { file: string; sourceKey: string | null; reason: string }[];
  failures: { name: string; reason: string }[];
  jobs: { id: string; stage: string }[];
}

/** The watcher, and each round it reports, in order. */
function startWatcher(apiKey: string, slug: string, watched = folder) {
  const child: ChildProcess = spawn(process.execPath, ['bin/sluice.js', 'ingest', slug, watched, '--watch', '--interval', '60', '--json', '--url', server.url], {
    env: childEnv({ SLUICE_CONFIG_DIR: join(home, 'config'), SLUICE_API_KEY: apiKey, HOME: home }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const rounds: Round[] = [];
  const waiters: (() => void)[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    rounds.push(JSON.parse(line));
    for (const wake of waiters.splice(0)) wake();
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    child,
    exit,
    /** The `n`th round (1-based), once printed. */
    async round(n: number): Promise<Round> {
      while (rounds.length < n) {
        await Promise.race([
          new Promise<void>((wake) => waiters.push(wake)),
          exit.then((code) => {
            throw new Error(`the watcher exited (${code}) before round ${n}: ${stderr}`);
          }),
        ]);
      }
      return rounds[n - 1]!;
    },
  };
}

async function documentKeys(slug: string): Promise<string[]> {
  const data = await must(server, owner.accessToken, 'query($slug: String) { dataset(slug: $slug) { documents(first: 100) { edges { node { sourceKey } } } } }', { slug });
  return data.dataset.documents.edges.map((edge: { node: { sourceKey: string } }) => edge.node.sourceKey).sort();
}

beforeAll(async () => {
  server = await startTestServer();
  owner = await signUp(server);
  mkdirSync(join(folder, 'sub'), { recursive: true });
  writeFileSync(join(folder, 'tides.md'), '# Tides\n\nThe tide turns the mill wheel twice a day.\n');
  writeFileSync(join(folder, 'sub', 'locks.txt'), 'A lock lifts boats between river levels.\n');
  writeFileSync(join(folder, 'records.jsonl'), '{"id":"a","text":"Weirs hold rivers back."}\n{"id":"b","text":"Sluices let floods through."}\n');
  writeFileSync(join(folder, 'picture.png'), 'not a format Sluice parses');
});
afterAll(async () => {
  await server?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('sluice ingest --watch', { timeout: 300_000 }, () => {
  it('keeps a folder and a dataset in step: added, changed and removed files; unchanged ones are never sent again', async () => {
    const slug = `watched-${process.pid}`;
    await must(server, owner.accessToken, 'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }', { input: { name: 'Watched', slug } });
    const key = (await createApiKey(server, owner.accessToken, { name: 'watcher', scopes: ['READ', 'WRITE'] })).body.data.createApiKey;
    const watcher = startWatcher(key.secret, slug);
    try {
      const first = await watcher.round(1);
      expect(first).toMatchObject({ dataset: slug, added: ['records.jsonl', 'sub/locks.txt', 'tides.md'], changed: [], removed: [], failures: [] });
      expect(first.jobs.map((job) => job.stage)).toEqual(['COMPLETED']);
      expect(await documentKeys(slug)).toEqual(['records.jsonl#1', 'records.jsonl#2', 'sub/locks.txt', 'tides.md']);

      // A new file: only it is sent.
      writeFileSync(join(folder, 'gates.md'), 'The gate keeper opens the sluice at dawn.\n');
      expect(await watcher.round(2)).toMatchObject({ added: ['gates.md'], changed: [], removed: [] });
      // A changed file: only it is sent, and its document replaced.
      writeFileSync(join(folder, 'tides.md'), '# Tides\n\nSpring tides run higher than neap tides.\n');
      expect(await watcher.round(3)).toMatchObject({ added: [], changed: ['tides.md'], removed: [] });
      // A removed file: its documents (both records of a JSON Lines file) are deleted.
      rmSync(join(folder, 'records.jsonl'));
      expect(await watcher.round(4)).toMatchObject({ added: [], changed: [], removed: ['records.jsonl'], documentsDeleted: 2 });
      expect(await documentKeys(slug)).toEqual(['gates.md', 'sub/locks.txt', 'tides.md']);
      const text = await must(server, owner.accessToken, 'query($slug: String) { dataset(slug: $slug) { documentCount } }', { slug });
      expect(text.dataset.documentCount).toBe(3);
    } finally {
      watcher.child.kill('SIGINT');
    }
    expect(await watcher.exit).toBe(0);

    // A new watcher on the same folder sends nothing: every file is as it was last sent.
    const again = startWatcher(key.secret, slug);
    try {
      expect(await again.round(1)).toEqual({ dataset: slug, added: [], changed: [], removed: [], documentsDeleted: 0, documentsKept: [], failures: [], jobs: [] });
    } finally {
      again.child.kill('SIGINT');
    }
    expect(await again.exit).toBe(0);
  });

  it('deletes only the documents it wrote: not one another member wrote under the same source key', async () => {
    const slug = `shared-${process.pid}`;
    const dataset = await must(server, owner.accessToken, 'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }', { input: { name: 'Shared', slug } });
    const key = (await createApiKey(server, owner.accessToken, { name: 'shared-watcher', scopes: ['READ', 'WRITE'] })).body.data.createApiKey;
    const member = await addMember(server, owner.accessToken, 'MEMBER');
    const ingestAsMember = async (title: string, text: string) => {
      const job = await must(server, member.accessToken, 'mutation($id: ID!, $documents: [InlineDocumentInput!]) { ingestDocuments(datasetId: $id, documents: $documents) { id } }', {
        id: dataset.createDataset.id,
        documents: [{ title, text }],
      });
      await pollUntil(
        async () => (await must(server, member.accessToken, 'query($id: ID!) { ingestionJob(id: $id) { stage } }', { id: job.ingestDocuments.id })).ingestionJob.stage,
        (stage) => stage === 'COMPLETED',
        { failure: (stage) => `the member's job is ${stage}`, timeoutMs: 60_000 },
      );
    };
    // The member's before the watcher starts, with the same text as the watched file: the watcher's send changes nothing.
    await ingestAsMember('same.txt', 'The mill pond fills overnight.');
    const shared = join(home, 'shared');
    mkdirSync(shared);
    writeFileSync(join(shared, 'same.txt'), 'The mill pond fills overnight.');
    writeFileSync(join(shared, 'replaced.txt'), 'Eels climb the fish ladder.');
    writeFileSync(join(shared, 'own.txt'), 'Only the watcher sent this.');
    const watcher = startWatcher(key.secret, slug, shared);
    try {
      expect(await watcher.round(1)).toMatchObject({ added: ['own.txt', 'replaced.txt', 'same.txt'], failures: [] });
      // The member re-ingests a document the watcher sent, under its source key.
      await ingestAsMember('replaced.txt', 'Salmon leap the weir in autumn.');

      rmSync(join(shared, 'same.txt'));
      rmSync(join(shared, 'replaced.txt'));
      rmSync(join(shared, 'own.txt'));
      const round = await watcher.round(2);
      expect(round).toMatchObject({ removed: ['own.txt', 'replaced.txt', 'same.txt'], documentsDeleted: 1 });
      expect(round.documentsKept).toEqual([{ file: 'replaced.txt', sourceKey: 'replaced.txt', reason: 'CHANGED_SINCE_SENT' }]);
      expect(await documentKeys(slug)).toEqual(['replaced.txt', 'same.txt']);
      const texts = await must(server, owner.accessToken, 'query($slug: String) { dataset(slug: $slug) { documents(first: 10) { edges { node { sourceKey bytes } } } } }', { slug });
      expect(texts.dataset.documents.edges.find((edge: { node: { sourceKey: string } }) => edge.node.sourceKey === 'replaced.txt').node.bytes).toBe(Buffer.byteLength('Salmon leap the weir in autumn.'));
    } finally {
      watcher.child.kill('SIGINT');
    }
    expect(await watcher.exit).toBe(0);
  });

  it('deletes nothing by name for a file remembered before it recorded document ids, and says so', async () => {
    const slug = `legacy-${process.pid}`;
    await must(server, owner.accessToken, 'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }', { input: { name: 'Legacy', slug } });
    const key = (await createApiKey(server, owner.accessToken, { name: 'legacy-watcher', scopes: ['READ', 'WRITE'] })).body.data.createApiKey;
    const legacy = join(home, 'legacy');
    mkdirSync(legacy);
    writeFileSync(join(legacy, 'old.txt'), 'Remembered by an older watcher.');
    const first = startWatcher(key.secret, slug, legacy);
    try {
      expect(await first.round(1)).toMatchObject({ added: ['old.txt'] });
    } finally {
      first.child.kill('SIGINT');
    }
    expect(await first.exit).toBe(0);
    // Rewrite its state as a watcher before version 2 kept it: sizes and times only.
    const watchDir = join(home, 'config', 'watch');
    const path = readdirSync(watchDir).map((name) => join(watchDir, name)).find((file) => file.endsWith('.json') && JSON.parse(readFileSync(file, 'utf8')).folder === legacy)!;
    const stored = JSON.parse(readFileSync(path, 'utf8'));
    const files = Object.fromEntries(Object.entries(stored.files).map(([name, file]: [string, any]) => [name, { bytes: file.bytes, modifiedMs: file.modifiedMs }]));
    writeFileSync(path, JSON.stringify({ url: stored.url, datasetId: stored.datasetId, folder: stored.folder, files }));

    const again = startWatcher(key.secret, slug, legacy);
    try {
      expect(await again.round(1)).toMatchObject({ added: [], changed: [], removed: [] });
      rmSync(join(legacy, 'old.txt'));
      expect(await again.round(2)).toMatchObject({ removed: ['old.txt'], documentsDeleted: 0, documentsKept: [{ file: 'old.txt', sourceKey: null, reason: 'NOT_RECORDED' }] });
      expect(await documentKeys(slug)).toEqual(['old.txt']);
    } finally {
      again.child.kill('SIGINT');
    }
    expect(await again.exit).toBe(0);
  });
});
