/**
 * What the console's ingestion and documents views ask of the API (issue 21): a job's status
 * says when some inputs failed (the stage alone said COMPLETED, shown green); a dataset's
 * documents filtered by title; a dataset's job history with every job's inputs.
 * (deleteDocument has its own test: test/ingestion/document-removal.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/identity.js';
import { createDataset, ingestFiles, ingestInline, serverWithOwner, settled } from '../support/ingestion.js';

const state = serverWithOwner();

const STATUS = `query($id: ID!) { ingestionJob(id: $id) { stage status documentsFailed progress { stage status documentsFailed }
  documents { name status reason error } } }`;

async function statusOf(token: string, jobId: string) {
  await settled(state.server, token, jobId);
  return (await state.server.graphql(STATUS, { token, variables: { id: jobId } })).body.data.ingestionJob;
}

describe('a job’s status', () => {
  it('is COMPLETED_WITH_FAILURES when some inputs failed, COMPLETED when none did, FAILED when all did', async () => {
    const { server, owner } = state;
    const dataset = await createDataset(server, owner.token);
    const mixed = await ingestFiles(server, owner.token, dataset.id, [
      { name: 'good.md', content: '# Lamps\n\nThe keeper trims the wick.' },
      { name: 'broken.json', content: '{"text": "unterminated' },
    ]);
    const job = await statusOf(owner.token, mixed.body.data.ingestDocuments.id);
    expect(job).toMatchObject({ stage: 'COMPLETED', status: 'COMPLETED_WITH_FAILURES', documentsFailed: 1 });
    expect(job.progress).toEqual({ stage: 'COMPLETED', status: 'COMPLETED_WITH_FAILURES', documentsFailed: 1 });
    expect(job.documents.map((input: any) => [input.name, input.status, input.reason])).toEqual([
      ['good.md', 'DONE', null],
      ['broken.json', 'FAILED', 'PARSE_ERROR'],
    ]);
    expect(job.documents[1].error).toBeTruthy();

    const clean = await ingestInline(server, owner.token, dataset.id, [{ title: 'Fog', text: 'Horns sound in fog.' }]);
    expect(await statusOf(owner.token, clean.body.data.ingestDocuments.id)).toMatchObject({ stage: 'COMPLETED', status: 'COMPLETED', documentsFailed: 0 });

    const hopeless = await ingestFiles(server, owner.token, dataset.id, [{ name: 'bad.json', content: '[' }]);
    expect(await statusOf(owner.token, hopeless.body.data.ingestDocuments.id)).toMatchObject({ stage: 'FAILED', status: 'FAILED', documentsFailed: 1 });
  });

  it('fails a file whose records repeat an id, storing none of it (the last record silently replaced the others, counted as written)', async () => {
    const { server, owner } = state;
    const dataset = await createDataset(server, owner.token);
    const upload = await ingestFiles(
      server,
      owner.token,
      dataset.id,
      [
        { name: 'd.json', content: '[{"text":"first record lamp","id":1},{"text":"second record fog","id":1}]' },
        { name: 't.csv', content: 'id,t\n1,x\n1,y\n' },
      ],
      { jsonIdField: 'id', csvIdColumn: 'id' },
    );
    const job = await statusOf(owner.token, upload.body.data.ingestDocuments.id);
    expect(job).toMatchObject({ stage: 'FAILED', status: 'FAILED', documentsFailed: 2 });
    expect(job.documents).toEqual([
      { name: 'd.json', status: 'FAILED', reason: 'PARSE_ERROR', error: expect.stringContaining('record 2 repeats the id "1" of record 1') },
      { name: 't.csv', status: 'FAILED', reason: 'PARSE_ERROR', error: expect.stringContaining('row 2 repeats the id "1" of row 1') },
    ]);
    const stored = await server.graphql('query($id: ID!) { dataset(id: $id) { documentCount } }', { token: owner.token, variables: { id: dataset.id } });
    expect(stored.body.data.dataset.documentCount).toBe(0);
  });

  it('reads an inline JSON Lines text that begins with a byte order mark as an uploaded file is read', async () => {
    const { server, owner } = state;
    const dataset = await createDataset(server, owner.token);
    const text = '\uFEFF{"text":"the keeper trims the wick","id":"a"}\n';
    const inline = await ingestInline(server, owner.token, dataset.id, [{ title: 'bom.jsonl', text, mimeType: 'application/jsonl' }], { jsonIdField: 'id' });
    const job = await statusOf(owner.token, inline.body.data.ingestDocuments.id);
    expect(job.documents).toEqual([{ name: 'bom.jsonl', status: 'DONE', reason: null, error: null }]);
  });

  it('reads QUEUED or RUNNING before the job ends; the history (last: n) lists the jobs with their inputs', async () => {
    const { server, owner } = state;
    const dataset = await createDataset(server, owner.token);
    const first = await ingestInline(server, owner.token, dataset.id, [{ title: 'One', text: 'First text.' }]);
    const started = await server.graphql(`query($id: ID!) { ingestionJob(id: $id) { stage status } }`, { token: owner.token, variables: { id: first.body.data.ingestDocuments.id } });
    const { stage, status } = started.body.data.ingestionJob;
    expect(status).toBe(stage === 'QUEUED' ? 'QUEUED' : stage === 'COMPLETED' ? 'COMPLETED' : 'RUNNING');
    await settled(server, owner.token, first.body.data.ingestDocuments.id);
    const second = await ingestFiles(server, owner.token, dataset.id, [{ name: 'x.json', content: '{' }, { name: 'y.txt', content: 'fine' }]);
    await settled(server, owner.token, second.body.data.ingestDocuments.id);

    const history = await server.graphql(
      `query($d: ID!) { ingestionJobs(datasetId: $d, last: 10) { edges { node { id status documents { name status reason } } } } }`,
      { token: owner.token, variables: { d: dataset.id } },
    );
    const nodes = history.body.data.ingestionJobs.edges.map((edge: any) => edge.node);
    expect(nodes.map((node: any) => node.id)).toEqual([first.body.data.ingestDocuments.id, second.body.data.ingestDocuments.id]);
    expect(nodes.map((node: any) => node.status)).toEqual(['COMPLETED', 'COMPLETED_WITH_FAILURES']);
    expect(nodes[1].documents).toEqual([
      { name: 'x.json', status: 'FAILED', reason: 'PARSE_ERROR' },
      { name: 'y.txt', status: 'DONE', reason: null },
    ]);
  });
});

describe('a dataset’s documents', () => {
  const DOCUMENTS = `query($slug: String!, $q: String) { dataset(slug: $slug) { documentCount chunkCount bytes
    documents(first: 50, titleContains: $q) { edges { node { title } } } } }`;

  async function seeded() {
    const { server, owner } = state;
    const dataset = await createDataset(server, owner.token);
    const job = await ingestInline(server, owner.token, dataset.id, [
      { title: 'Lamp care', text: 'The keeper winds the clockwork lamp every evening at dusk.' },
      { title: 'Fog signals', text: 'Fog horns sound when the harbour is blind.' },
      { title: 'LAMP rooms 100%_done', text: 'The lamp room is swept each morning.' },
      { title: 'Logs\\2026', text: 'The log is kept in the watch room.' },
    ]);
    await settled(server, owner.token, job.body.data.ingestDocuments.id);
    return dataset;
  }

  it('are listed in the order they were sent, even when one transaction wrote them all', async () => {
    const { server, owner } = state;
    const dataset = await createDataset(server, owner.token);
    // Titles whose sorted order differs from the order sent: a listing by id or title would fail.
    const sent = Array.from({ length: 20 }, (_, i) => `Note ${String.fromCharCode(116 - i)}${i}`);
    const job = await ingestInline(server, owner.token, dataset.id, sent.map((title) => ({ title, text: `Entry ${title} of the keeper's log.` })));
    await settled(server, owner.token, job.body.data.ingestDocuments.id);
    const listed = await server.graphql(DOCUMENTS, { token: owner.token, variables: { slug: dataset.slug, q: null } });
    expect(listed.body.data.dataset.documents.edges.map((edge: any) => edge.node.title)).toEqual(sent);
  });

  it('are found by a part of their title, case-insensitively, with %, _ and \\ taken literally', async () => {
    const { server, owner } = state;
    const dataset = await seeded();
    const titles = async (q: string | null) =>
      (await server.graphql(DOCUMENTS, { token: owner.token, variables: { slug: dataset.slug, q } })).body.data.dataset.documents.edges.map((edge: any) => edge.node.title);
    expect(await titles('lamp')).toEqual(['Lamp care', 'LAMP rooms 100%_done']);
    expect(await titles('%')).toEqual(['LAMP rooms 100%_done']);
    expect(await titles('_')).toEqual(['LAMP rooms 100%_done']);
    expect(await titles('\\')).toEqual(['Logs\\2026']);
    expect(await titles('s\\2')).toEqual(['Logs\\2026']);
    expect(await titles('\\_')).toEqual([]);
    expect(await titles('nothing like it')).toEqual([]);
    expect(await titles(null)).toHaveLength(4);
    const tooLong = await server.graphql(DOCUMENTS, { token: owner.token, variables: { slug: dataset.slug, q: 'x'.repeat(201) } });
    expect(codeOf(tooLong.body)).toBe('BAD_USER_INPUT');
  });
});
