/**
 * Clearing a dataset's embedding model while a job of it replaces a document: the update and
 * the group must not deadlock. Replacing a document deletes its chunks, and the cascade takes
 * their vectors' rows before the statistics trigger takes the dataset's; the update took the
 * dataset's row first (its UPDATE) and the vectors' after (their DELETE). The vectors now go
 * first, in the group's order (dataset-embedding.ts, changeEmbeddingModel). The embeddings
 * model is never called here: the vectors are written in SQL.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { databaseIdOf } from '../support/global-ids.js';
import { createModel, uniqueSlug } from '../support/endpoints.js';
import { createDataset, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { asOwner, untilLockWaiters } from '../support/locks.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

it('clears the model after the group that replaces a document, without a deadlock', { timeout: 120_000 }, async () => {
  const { token } = await tenantWithOwner(server);
  const model = await createModel(server, token, { name: uniqueSlug('embeddings'), type: 'openai-compatible-embeddings', config: { baseUrl: 'http://127.0.0.1:9/v1', model: 'unused', dimensions: 3 } });
  const dataset = await createDataset(server, token);
  const datasetId = databaseIdOf(dataset.id);
  const notes = (seed: string) => [0, 1].map((index) => ({ title: `note-${index}`, text: `Note ${index}, ${seed}: the keeper winds the lamp and opens the gate.` }));
  const first = await ingestInline(server, token, dataset.id, notes('first'));
  expect((await settled(server, token, first.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  // Every chunk embedded by the model, as its EMBEDDING stage would have left them.
  await asOwner(server, async (client) => {
    await client.query(`update datasets set embedding_model_id = $2, serving_embedding_model_id = $2 where id = $1`, [datasetId, databaseIdOf(model.id)]);
    await client.query(
      `insert into chunk_embeddings (id, tenant_id, dataset_id, chunk_id, model_id, dimensions, embedding, created_at)
       select gen_random_uuid(), c.tenant_id, c.dataset_id, c.id, $2, 3, '{1,0,0}', now() from chunks c where c.dataset_id = $1`,
      [datasetId, databaseIdOf(model.id)],
    );
  });
  const logsBefore = server.logs.length;

  const { cleared, jobId } = await asOwner(server, async (holder) => {
    await holder.query('begin');
    await holder.query(`select 1 from datasets where id = $1 for no key update`, [datasetId]);
    // The update first, then the group, both waiting for the dataset's row: the update gets it first.
    const clearing = server.graphql(`mutation($id: ID!) { updateDataset(id: $id, input: { embeddingModelId: null }) { id } }`, { token, variables: { id: dataset.id } });
    await untilLockWaiters(server, { startingWith: 'update "datasets"' }, 1, 'dataset updates');
    const job = await ingestInline(server, token, dataset.id, notes('second').slice(0, 1));
    expect(job.body.errors).toBeUndefined();
    await untilLockWaiters(server, { startingWith: 'delete from chunks' }, 1, 'chunk deletes');
    await holder.query('commit');
    return { cleared: await clearing, jobId: job.body.data.ingestDocuments.id as string };
  });
  expect(cleared.body.errors).toBeUndefined();
  expect((await settled(server, token, jobId)).stage).toBe('COMPLETED');
  const left = await asOwner(server, async (client) =>
    (
      await client.query(
        `select d.embedding_model_id as model, (select count(*)::int from chunk_embeddings e where e.dataset_id = d.id) as vectors,
                (select count(*)::int from documents where dataset_id = d.id) as documents
           from datasets d where d.id = $1`,
        [datasetId],
      )
    ).rows[0],
  );
  expect(left).toEqual({ model: null, vectors: 0, documents: 2 });
  const errors = server.logs.slice(logsBefore).filter((line) => line.level >= 50 || /deadlock/i.test(JSON.stringify(line)));
  expect(errors.map((line) => JSON.stringify(line).slice(0, 300))).toEqual([]);
});

it('writes nothing of an update refused for its embedding model or its slug', async () => {
  const { token } = await tenantWithOwner(server);
  const chat = await createModel(server, token, { name: uniqueSlug('extractive'), type: 'extractive' });
  const dataset = await createDataset(server, token);
  const other = await createDataset(server, token);
  const stored = (id: string) => asOwner(server, async (client) => (await client.query(`select name, description, slug from datasets where id = $1`, [databaseIdOf(id)])).rows[0]);
  const before = await stored(dataset.id);
  const takenSlug = (await stored(other.id)).slug as string;
  // A chat model as the embedding model; a slug another dataset has. Each with fields that pass.
  for (const [input, code] of [
    [{ embeddingModelId: chat.id }, 'BAD_USER_INPUT'],
    [{ slug: takenSlug }, 'CONFLICT'],
  ] as const) {
    const { body } = await server.graphql(`mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id } }`, {
      token,
      variables: { id: dataset.id, input: { name: 'Renamed', description: 'Changed', ...input } },
    });
    expect(body.errors?.[0]?.extensions?.code).toBe(code);
    expect(await stored(dataset.id)).toEqual(before);
  }
});
