/**
 * `sluice ingest <dataset> <folder> --watch --json` as a child process (the compiled CLI)
 * against the real server: the first round sends the folder; a file added, one changed and
 * one removed are each seen and synced (the removed file's documents deleted, a JSON file's
 * records included); unchanged files are not sent again, not even by a new watcher started
 * later (what was sent is remembered in the config directory); SIGINT ends it with exit 0.
 * Rounds are awaited as the JSON lines the watcher prints, never by sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { must } from '../support/endpoints.js';
import { createApiKey, signUp, type SignedUp } from '../support/identity.js';
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
  failures: { name: string; reason: string }[];
  jobs: { id: string; stage: string }[];
}

/** The watcher, and each round it reports, in order. */
function startWatcher(apiKey: string, slug: string) {
  const child: ChildProcess = spawn(process.execPath, ['bin/sluice.js', 'ingest', slug, folder, '--watch', '--interval', '60', '--json', '--url', server.url], {
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
      expect(await again.round(1)).toEqual({ dataset: slug, added: [], changed: [], removed: [], documentsDeleted: 0, failures: [], jobs: [] });
    } finally {
      again.child.kill('SIGINT');
    }
    expect(await again.exit).toBe(0);
  });
});
