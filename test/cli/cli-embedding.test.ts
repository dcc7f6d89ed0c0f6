/**
 * Giving a dataset an embedding model from the terminal (the user review's defect: `--mode
 * semantic` was always refused, since no command could set one): `datasets create
 * --embedding-model`, `datasets list` showing the model and chunks embedded, `datasets update`
 * to another model with the re-embed job's live progress until COMPLETED (and a failed one, exit
 * 1), `datasets reembed`, clearing the model, and a model that is not there (nothing changes);
 * and what a later review found missing: `ingest`'s EMBEDDING stage shown by chunks embedded,
 * endpoints' retrieval mode and engine in `endpoints show|list`, passages' ranks in `query --json`.
 * Each command is `node bin/sluice.js …` in a child process against the real server (HTTP and
 * WebSocket) with a real job worker and PostgreSQL. The embeddings provider is fake-openai: a
 * TEST DOUBLE for a third-party model server, a real HTTP server on 127.0.0.1 speaking the real
 * `/v1/embeddings` protocol; what it received is checked.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliUser, expectFailure } from '../support/cli.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { signUp, type SignedUp } from '../support/identity.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
let fake: FakeOpenAI;
let owner: SignedUp;
const { home, sluice, json, logIn, start } = cliUser('cli-embedding');

const HINT = 'give the dataset an embedding model: `sluice datasets update <dataset> --embedding-model <model>`';

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // One retry, quickly: a scripted pair of HTTP 500s fails an embedding batch, and the job with it.
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '1', SLUICE_MODEL_RETRY_BASE_MS: '10' } });
  owner = await signUp(server);
  await logIn(server.url, owner);
  for (const [name, model] of [
    ['emb', 'fake-embed'],
    ['emb2', 'fake-embed-2'],
  ]) {
    const created = await sluice(['models', 'create', name!, '--type', 'openai-compatible-embeddings', '--config', JSON.stringify({ baseUrl: fake.baseUrl, model, batchSize: 4 })]);
    expect({ code: created.code, stdout: created.stdout }).toEqual({ code: 0, stdout: `Created model ${name} (openai-compatible-embeddings, embeddings)\n` });
  }
  expect((await sluice(['models', 'create', 'built-in', '--type', 'extractive'])).code).toBe(0);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

/** Three short Markdown files in a fresh folder: several chunks each at --chunk-size 100. */
function folder(label: string): string {
  const dir = mkdtempSync(join(home, `${label}-`));
  for (const name of ['gates', 'tides', 'locks']) {
    writeFileSync(join(dir, `${name}.md`), `# ${name}\n\nThe ${name} of the harbour open at dawn and close at dusk. `.repeat(4));
  }
  return dir;
}

async function ingest(dataset: string, label: string) {
  return sluice(['ingest', dataset, folder(label), '--chunk-size', '100', '--chunk-overlap', '10', '--json']);
}

/** The dataset as `datasets list --json` shows it. */
async function listed(slug: string) {
  return (await json(['datasets', 'list'])).find((dataset: { slug: string }) => dataset.slug === slug);
}

/** The texts the fake was asked to embed with `model`, from request `from` on. */
function embeddedTexts(model: string, from: number): string[] {
  return fake.requests.slice(from).filter((request) => request.body.model === model && request.status === 200).flatMap((request) => request.body.input as string[]);
}

const lines = (text: string) => text.split('\n').filter(Boolean);

describe('sluice datasets: embedding models', { timeout: 300_000 }, () => {
  it('create --embedding-model embeds the chunks as they are ingested; list shows the model and how many are embedded; a semantic endpoint is accepted', async () => {
    const created = await sluice(['datasets', 'create', 'semcli', '--embedding-model', 'emb']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^Created dataset semcli \(\S+\), embedding model emb\n$/);
    expect(await listed('semcli')).toMatchObject({ chunkCount: 0, embedding: { model: { name: 'emb' }, servingModel: null, embeddedChunks: 0, totalChunks: 0 } });
    expect(await json(['datasets', 'create', 'plain'])).toMatchObject({ slug: 'plain', embedding: null });

    const before = fake.requests.length;
    const ingested = await ingest('semcli', 'semcli');
    expect(ingested.code).toBe(0);
    expect(JSON.parse(ingested.stdout)).toMatchObject({ ok: true, jobs: [{ stage: 'COMPLETED', documentsDone: 3 }] });
    const dataset = await listed('semcli');
    expect(dataset.chunkCount).toBeGreaterThan(3);
    expect(dataset.embedding).toEqual({
      model: { id: expect.any(String), name: 'emb' },
      servingModel: { id: dataset.embedding.model.id, name: 'emb' },
      embeddedChunks: dataset.chunkCount,
      totalChunks: dataset.chunkCount,
    });
    // Every chunk went to the model server once, by the dataset's model.
    expect(embeddedTexts('fake-embed', before)).toHaveLength(dataset.chunkCount);

    const table = lines((await sluice(['datasets', 'list'])).stdout);
    expect(table[0]).toMatch(/^SLUG\s+NAME\s+DOCUMENTS\s+CHUNKS\s+SIZE\s+EMBEDDING\s+LAST INGESTED$/);
    expect(table.find((line) => line.startsWith('semcli '))).toMatch(new RegExp(`^semcli\\s+semcli\\s+3\\s+${dataset.chunkCount}\\s+[\\d.]+ KB\\s+emb ${dataset.chunkCount}/${dataset.chunkCount}\\s+\\d{4}-`));
    expect(table.find((line) => line.startsWith('plain '))).toMatch(/^plain\s+plain\s+0\s+0\s+0\.0 KB\s+-\s+-$/);

    const endpoint = await sluice(['endpoints', 'create', 'semantic', '--dataset', 'semcli', '--mode', 'semantic', '--model', 'built-in']);
    expect({ code: endpoint.code, stderr: endpoint.stderr }).toEqual({ code: 0, stderr: '' });
    expect(endpoint.stdout).toBe(`Created endpoint ${owner.tenant.slug}/semantic (unpublished), model built-in, datasets semcli\n`);
  });

  it('endpoints show, list and --json name the retrieval mode and engine (they showed only "top 5")', async () => {
    expect((await sluice(['datasets', 'create', 'modes', '--embedding-model', 'emb'])).code).toBe(0);
    expect((await ingest('modes', 'modes')).code).toBe(0);
    for (const mode of ['semantic', 'hybrid']) expect((await sluice(['endpoints', 'create', `modes-${mode}`, '--dataset', 'modes', '--mode', mode, '--model', 'built-in'])).code).toBe(0);
    // What the API says serves each one (VECTOR_EXACT or VECTOR_HNSW depends on the server's pgvector).
    const { body } = await server.graphql('{ endpoints(first: 100) { edges { node { slug retrieval { mode engine } } } } }', { token: owner.accessToken });
    const api = new Map<string, { mode: string; engine: string }>(body.data.endpoints.edges.map(({ node }: { node: { slug: string; retrieval: { mode: string; engine: string } } }) => [node.slug, node.retrieval]));
    const semantic = api.get('modes-semantic')!;
    const hybrid = api.get('modes-hybrid')!;
    expect(semantic).toEqual({ mode: 'SEMANTIC', engine: expect.stringMatching(/^VECTOR_(EXACT|HNSW)$/) });
    expect(hybrid).toEqual({ mode: 'HYBRID', engine: expect.stringMatching(/^HYBRID_BM25_(EXACT|HNSW)$/) });

    const shown = await sluice(['endpoints', 'show', 'modes-semantic']);
    expect(lines(shown.stdout)).toContain(`  retrieval   semantic (${semantic.engine}), top 5`);
    expect((await json(['endpoints', 'show', 'modes-hybrid'])).retrieval).toEqual({ mode: 'HYBRID', engine: hybrid.engine, topK: 5, minScore: null, passagesPerDocument: null });

    const table = lines((await sluice(['endpoints', 'list'])).stdout);
    expect(table[0]).toMatch(/^ADDRESS\s+NAME\s+MODEL\s+DATASETS\s+MODE\s+VISIBILITY\s+HEALTH$/);
    expect(table.find((line) => line.startsWith(`${owner.tenant.slug}/modes-semantic `))).toMatch(/\s+built-in\s+modes\s+semantic\s+private\s+/);
    expect(table.find((line) => line.startsWith(`${owner.tenant.slug}/modes-hybrid `))).toMatch(/\s+built-in\s+modes\s+hybrid\s+private\s+/);
    const listed = await json(['endpoints', 'list']);
    expect(listed.find((endpoint: { slug: string }) => endpoint.slug === 'modes-semantic').retrieval).toMatchObject(semantic);
  });

  it('query --json gives each passage its ranks, highlight and documentId, as the API does (a script could not see how HYBRID placed it)', async () => {
    expect((await sluice(['datasets', 'create', 'ranked', '--embedding-model', 'emb'])).code).toBe(0);
    expect((await ingest('ranked', 'ranked')).code).toBe(0);
    expect((await sluice(['endpoints', 'create', 'ranked', '--dataset', 'ranked', '--mode', 'hybrid', '--model', 'built-in', '--top-k', '3'])).code).toBe(0);
    const reference = `${owner.tenant.slug}/ranked`;
    const question = 'when do the tides open';

    const asked = await json(['query', reference, question]);
    const { body } = await server.graphql('query($endpoint: String!, $query: String!) { queryEndpoint(endpoint: $endpoint, query: $query) { passages { rank chunkId documentId documentTitle text score highlight ranks { keyword semantic } } } }', {
      token: owner.accessToken,
      variables: { endpoint: reference, query: question },
    });
    expect(body.errors).toBeUndefined();
    expect(asked.passages).toEqual(body.data.queryEndpoint.passages);
    expect(asked.passages).toHaveLength(3);
    const [best] = asked.passages;
    // The best passage is about the tides: both rankings placed it, and the highlight marks the words that matched.
    expect(best).toMatchObject({ rank: 1, documentTitle: 'tides', documentId: expect.any(String), ranks: { keyword: expect.any(Number), semantic: expect.any(Number) } });
    expect(best.highlight).toMatch(/\*\*tides\*\*/i);
  });

  it('ingest shows the EMBEDDING stage by its chunks embedded, with their own percent and ETA (it showed 100 %, ETA - and a falling MB/s)', async () => {
    expect((await sluice(['datasets', 'create', 'paced', '--embedding-model', 'emb'])).code).toBe(0);
    // The model server holds each batch (4 chunks) until the CLI has shown where the job is.
    const hold = () => {
      let release!: () => void;
      const until = new Promise<void>((resolve) => (release = resolve));
      fake.script({ embeddings: { until } });
      return release;
    };
    const before = fake.requests.length;
    let release = hold();
    const run = start(['ingest', 'paced', folder('paced'), '--chunk-size', '100', '--chunk-overlap', '10']);
    let total = 0;
    try {
      const first = await run.stderrLine((line) => line.includes(' EMBEDDING '));
      total = Number(/embedded 0\/(\d+) chunks/.exec(first)?.[1]);
      expect(first).toBe(`job 1 EMBEDDING   0% | docs 3/3 | embedded 0/${total} chunks | ETA -`);
      expect(total).toBeGreaterThan(8);
      await fake.requestsReached(before + 1);
      const second = hold();
      release();
      release = second;
      const next = await run.stderrLine((line) => line.includes(' EMBEDDING ') && !line.includes('embedded 0/'));
      expect(next).toMatch(new RegExp(`^job 1 EMBEDDING\\s+${Math.floor((400) / total)}% \\| docs 3/3 \\| embedded 4/${total} chunks \\| ETA \\d+s$`));
    } finally {
      fake.script({});
      release();
    }
    const { code, stdout, stderr } = await run.done;
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Ingested 3 inputs, ${total} chunks into paced \\(1 jobs\\)\n$`));
    // No bytes rate while it embeds: the bytes were all read before.
    const embedding = lines(stderr).filter((line) => line.includes(' EMBEDDING '));
    for (const line of embedding) expect(line).toMatch(/^job 1 EMBEDDING\s+\d+% \| docs 3\/3 \| embedded \d+\/\d+ chunks \| ETA (-|\d+s)$/);
    // The rate is "-" when the whole job took under 0.2 s by the CLI's clock (progress.ts): it can, here, on an idle machine.
    expect(lines(stderr).at(-1)).toMatch(/^job 1 COMPLETED\s+100% \| docs 3\/3 \| chunks \d+ \| (-|[\d.]+) MB\/s \| done$/);
    expect((await listed('paced')).embedding).toMatchObject({ embeddedChunks: total, totalChunks: total });
  });

  it('update --embedding-model another: the re-embed job is followed live to COMPLETED, then the new model serves', async () => {
    expect((await sluice(['datasets', 'create', 'swap', '--embedding-model', 'emb'])).code).toBe(0);
    expect((await ingest('swap', 'swap')).code).toBe(0);
    const chunks = (await listed('swap')).chunkCount as number;

    const before = fake.requests.length;
    const run = await sluice(['datasets', 'update', 'swap', '--embedding-model', 'emb2', '--name', 'Swapped']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Re-embedded swap with emb2: ${chunks} of ${chunks} chunks; semantic queries use emb2\n`);
    const progress = lines(run.stderr);
    expect(progress[0]).toBe('Re-embedding swap with emb2');
    for (const line of progress.slice(1)) expect(line).toMatch(/^re-embed (QUEUED|EMBEDDING|COMPLETED)\s+\d+% \| chunks embedded \d+\/\d+ \| (ETA \S+|done)$/);
    expect(progress.at(-1)).toMatch(new RegExp(`^re-embed COMPLETED\\s+100% \\| chunks embedded ${chunks}/${chunks} \\| done$`));
    // Every chunk embedded again, once, by the new model.
    expect(embeddedTexts('fake-embed-2', before)).toHaveLength(chunks);
    expect(await listed('swap')).toMatchObject({ name: 'Swapped', embedding: { model: { name: 'emb2' }, servingModel: { name: 'emb2' }, embeddedChunks: chunks, totalChunks: chunks } });

    // The same model again changes nothing and queues no job.
    const again = await sluice(['datasets', 'update', 'swap', '--embedding-model', 'emb2']);
    expect(again).toMatchObject({ code: 0, stdout: 'Updated dataset swap: its embedding model was emb2 already\n', stderr: '' });
  });

  it('a re-embed job that fails exits 1 with its reason and the old vectors keep serving; reembed then embeds what is missing', async () => {
    expect((await sluice(['datasets', 'create', 'gaps', '--embedding-model', 'emb'])).code).toBe(0);
    expect((await ingest('gaps', 'gaps')).code).toBe(0);
    const chunks = (await listed('gaps')).chunkCount as number;

    // The model server answers HTTP 500 to the first batch and to its one retry.
    fake.script({ failures: [{ status: 500 }, { status: 500 }] });
    const failed = await sluice(['datasets', 'update', 'gaps', '--embedding-model', 'emb2', '--json']);
    expect(failed.code).toBe(1);
    const report = JSON.parse(failed.stdout);
    expect(report.job).toMatchObject({ stage: 'FAILED', errorReason: 'EMBEDDING_HTTP_ERROR', chunksEmbedded: 0, chunksToEmbed: chunks });
    expect(report.dataset.embedding).toMatchObject({ model: { name: 'emb2' }, servingModel: { name: 'emb' }, embeddedChunks: 0, totalChunks: chunks });
    expect(lines(failed.stderr).at(-1)).toBe(`sluice datasets update: the re-embed job ${report.job.id} did not complete`);
    expect(lines((await sluice(['datasets', 'list'])).stdout).find((line) => line.startsWith('gaps '))).toContain(`emb2 0/${chunks} (serving emb)`);

    const before = fake.requests.length;
    const reembed = await sluice(['datasets', 'reembed', 'gaps']);
    expect(reembed.code).toBe(0);
    expect(reembed.stdout).toBe(`Re-embedded gaps with emb2: ${chunks} of ${chunks} chunks; semantic queries use emb2\n`);
    expect(lines(reembed.stderr).at(-1)).toMatch(new RegExp(`^re-embed COMPLETED\\s+100% \\| chunks embedded ${chunks}/${chunks} \\| done$`));
    expect(embeddedTexts('fake-embed-2', before)).toHaveLength(chunks);

    // Nothing is left to embed: a second reembed embeds nothing, and --no-wait returns the queued job.
    const queued = await json(['datasets', 'reembed', 'gaps', '--no-wait']);
    expect(queued.job).toEqual({ id: expect.any(String), stage: 'QUEUED', chunksEmbedded: 0, chunksToEmbed: 0, error: null, errorReason: null });
    expect(queued.dataset).toMatchObject({ slug: 'gaps', embedding: { model: { name: 'emb2' }, servingModel: { name: 'emb2' }, embeddedChunks: chunks } });
  });

  it('--no-embedding-model makes the dataset keyword-only; semantic endpoints and reembed are then refused with the fix', async () => {
    expect((await sluice(['datasets', 'create', 'dropped', '--embedding-model', 'emb'])).code).toBe(0);
    expect((await ingest('dropped', 'dropped')).code).toBe(0);

    const cleared = await sluice(['datasets', 'update', 'dropped', '--no-embedding-model']);
    expect(cleared).toMatchObject({ code: 0, stdout: 'Updated dataset dropped: no embedding model, keyword search only now (its vectors are deleted)\n', stderr: '' });
    expect(await listed('dropped')).toMatchObject({ slug: 'dropped', embedding: null });
    expect(lines((await sluice(['datasets', 'list'])).stdout).find((line) => line.startsWith('dropped '))).toMatch(/^dropped\s+dropped\s+3\s+\d+\s+[\d.]+ KB\s+-\s+\d{4}-/);

    const endpoint = await sluice(['endpoints', 'create', 'dropped-semantic', '--dataset', 'dropped', '--mode', 'semantic', '--model', 'built-in']);
    expectFailure(endpoint, 1, /^sluice endpoints create: BAD_USER_INPUT: SEMANTIC retrieval needs an embedding model on every dataset; 1 of the endpoint's datasets have none; /);
    expect(endpoint.stderr).toContain(HINT);
    const reembed = await sluice(['datasets', 'reembed', 'dropped']);
    expectFailure(reembed, 1, /^sluice datasets reembed: BAD_USER_INPUT: The dataset has no embedding model/);
    expect(reembed.stderr).toContain(HINT);
  });

  it('a model that is not there, or is not an embeddings model, changes nothing and exits non-zero', async () => {
    expect((await sluice(['datasets', 'create', 'kept', '--embedding-model', 'emb'])).code).toBe(0);
    const before = await listed('kept');

    expectFailure(await sluice(['datasets', 'update', 'kept', '--name', 'Renamed', '--embedding-model', 'nope']), 1, /^sluice datasets update: no model "nope" in your tenant \(see `sluice models list`\)\n$/);
    // A chat model: the server refuses the whole update, the name too.
    expectFailure(await sluice(['datasets', 'update', 'kept', '--name', 'Renamed', '--embedding-model', 'built-in']), 1, /^sluice datasets update: BAD_USER_INPUT: .*embeddings/);
    expectFailure(await sluice(['datasets', 'update', 'kept', '--embedding-model', 'emb2', '--no-embedding-model']), 2, /^sluice datasets update: give --embedding-model or --no-embedding-model, not both\n/);
    expectFailure(await sluice(['datasets', 'update', 'kept']), 2, /^sluice datasets update: nothing to change/);
    expect(await listed('kept')).toEqual(before);

    expectFailure(await sluice(['datasets', 'create', 'never', '--embedding-model', 'nope']), 1, /^sluice datasets create: no model "nope" in your tenant/);
    expect(await listed('never')).toBeUndefined();
  });
});
