/**
 * deleteModel (and a change of an embeddings model's vector settings) racing a mutation that
 * makes an endpoint or a dataset use the model: createDataset / updateDataset
 * (embeddingModelId), createEndpoint / updateEndpoint (modelId). The model service asked "is it
 * used?" and then deleted the model, without locking it against a mutation that picked it in
 * between. A user review ran updateDataset ‖ deleteModel 41 times: 7 times both succeeded (the
 * dataset answered its model, then the foreign key's `on delete set null` left it without one,
 * its re-embed job queued for a model that no longer existed), 4 times updateDataset failed as
 * INTERNAL on the foreign key; createEndpoint ‖ deleteModel failed INTERNAL 3 times in 26
 * (`endpoints_model_id_foreign`, on delete restrict). Exactly one must win cleanly: deleteModel
 * answers CONFLICT MODEL_IN_USE, or the other answers NOT_FOUND (Model).
 *
 * Each interleaving is forced, not hoped for: a second connection (the database owner) holds a
 * row so that one side waits at a known point while the other runs (models/model-lock.ts says
 * which locks serialize them now).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, gql, must, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { databaseIdOf } from '../support/global-ids.js';
import { createDataset, tenantWithOwner } from '../support/ingestion.js';
import { asOwner, blockedBackend, lockWaiters, untilLockWaiters } from '../support/locks.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type GraphQLResponse, type TestServer } from '../support/server.js';

let server: TestServer;
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  // No worker: a re-embed job an embedding model change starts stays QUEUED (nothing to embed anyway).
  server = await startTestServer({ worker: false });
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

type Body = GraphQLResponse['body'];

const DELETE_MODEL = 'mutation($id: ID!) { deleteModel(id: $id) { id } }';
const embeddingsModel = (token: string) =>
  createModel(server, token, { name: uniqueSlug('emb'), type: 'openai-compatible-embeddings', config: { baseUrl: fake.baseUrl, model: 'fake-embed', batchSize: 4 } });
const chatModel = (token: string) => createModel(server, token, { name: uniqueSlug('chat'), type: 'extractive' });

/** A mutation that makes something use a model: how to set it up, run it, and read what it left. */
interface Pick {
  /** The model it picks, and the row it will write (locked by the "waits to write" cases). */
  prepare(token: string): Promise<{ modelId: string; row?: { table: string; id: string } }>;
  run(token: string, modelId: string): Promise<Body>;
  /** The model id it answered (a successful run). */
  answered(body: Body): string;
  /** The model the written row names now (null: none; undefined: no row was written). */
  stored(body: Body): Promise<string | null | undefined>;
}

const modelOf = (table: string, column: string, id: string) =>
  asOwner(server, async (client) => (await client.query(`select ${column} as model from ${table} where id = $1`, [databaseIdOf(id)])).rows[0]?.model as string | null | undefined);

const datasetEndpointSetup = new Map<string, { datasetId: string; endpointId?: string }>();

const PICKS: Record<string, Pick> = {
  createDataset: {
    prepare: async (token) => ({ modelId: (await embeddingsModel(token)).id }),
    run: (token, modelId) =>
      gql(server, token, 'mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id embedding { model { id } } } }', {
        input: { name: 'Docs', slug: uniqueSlug('ds'), embeddingModelId: modelId },
      }),
    answered: (body) => body.data.createDataset.embedding.model.id,
    stored: (body) => modelOf('datasets', 'embedding_model_id', body.data.createDataset.id),
  },
  updateDataset: {
    async prepare(token) {
      const dataset = await createDataset(server, token);
      const modelId = (await embeddingsModel(token)).id;
      datasetEndpointSetup.set(modelId, { datasetId: dataset.id });
      return { modelId, row: { table: 'datasets', id: dataset.id } };
    },
    run: (token, modelId) =>
      gql(server, token, 'mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { id embedding { model { id } } } }', {
        id: datasetEndpointSetup.get(modelId)!.datasetId,
        input: { embeddingModelId: modelId },
      }),
    answered: (body) => body.data.updateDataset.embedding.model.id,
    stored: (body) => modelOf('datasets', 'embedding_model_id', body.data?.updateDataset?.id ?? ''),
  },
  createEndpoint: {
    async prepare(token) {
      const dataset = await createDataset(server, token);
      const modelId = (await chatModel(token)).id;
      datasetEndpointSetup.set(modelId, { datasetId: dataset.id });
      return { modelId };
    },
    run: (token, modelId) =>
      gql(server, token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id model { id } } }', {
        input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [datasetEndpointSetup.get(modelId)!.datasetId], modelId },
      }),
    answered: (body) => body.data.createEndpoint.model.id,
    stored: (body) => modelOf('endpoints', 'model_id', body.data.createEndpoint.id),
  },
  updateEndpoint: {
    async prepare(token) {
      const dataset = await createDataset(server, token);
      const first = await chatModel(token);
      const endpoint = await must(server, token, 'mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id } }', {
        input: { name: 'Docs', slug: uniqueSlug('ep'), datasetIds: [dataset.id], modelId: first.id },
      });
      const modelId = (await chatModel(token)).id;
      datasetEndpointSetup.set(modelId, { datasetId: dataset.id, endpointId: endpoint.createEndpoint.id });
      return { modelId, row: { table: 'endpoints', id: endpoint.createEndpoint.id } };
    },
    run: (token, modelId) =>
      gql(server, token, 'mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { id model { id } } }', {
        id: datasetEndpointSetup.get(modelId)!.endpointId,
        input: { modelId },
      }),
    answered: (body) => body.data.updateEndpoint.model.id,
    stored: (body) => modelOf('endpoints', 'model_id', body.data.updateEndpoint.id),
  },
};

const codeOf = (body: Body) => body.errors?.[0]?.extensions?.code as string | undefined;
const modelExists = (modelId: string) => asOwner(server, async (client) => (await client.query('select 1 from models where id = $1', [databaseIdOf(modelId)])).rowCount === 1);

/** The pick won: it answered the model, deleteModel answered CONFLICT MODEL_IN_USE, and the row still names the model. */
async function expectPickWon(pick: Pick, modelId: string, picked: Body, deleted: Body) {
  expect({ errors: picked.errors, model: picked.errors ? undefined : pick.answered(picked) }).toEqual({ errors: undefined, model: modelId });
  expect({ code: codeOf(deleted), reason: deleted.errors?.[0]?.extensions?.reason }).toEqual({ code: 'CONFLICT', reason: 'MODEL_IN_USE' });
  expect(await modelExists(modelId)).toBe(true);
  expect(await pick.stored(picked)).toBe(databaseIdOf(modelId));
}

describe('deleteModel racing a mutation that makes something use the model', { timeout: 120_000 }, () => {
  it.each(Object.keys(PICKS))('%s commits while deleteModel waits after its check: deleteModel answers MODEL_IN_USE', async (name) => {
    const pick = PICKS[name]!;
    const { token } = await tenantWithOwner(server);
    const { modelId } = await pick.prepare(token);
    const { picked, deleted } = await asOwner(server, async (holder) => {
      await holder.query('begin');
      // Shared, like the pick's own lock (or its foreign key's): the pick passes, the delete waits.
      await holder.query('select 1 from models where id = $1 for share', [databaseIdOf(modelId)]);
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const deleting = gql(server, token, DELETE_MODEL, { id: modelId });
      await untilLockWaiters(server, { blockedBy: holderPid }, 1, 'deleteModel statements for the held model');
      const picked = await pick.run(token, modelId);
      await holder.query('commit');
      return { picked, deleted: await deleting };
    });
    await expectPickWon(pick, modelId, picked, deleted);
  });

  it.each(['updateDataset', 'updateEndpoint'])('deleteModel runs while %s waits to write its row: the pick wins, deleteModel answers MODEL_IN_USE', async (name) => {
    const pick = PICKS[name]!;
    const { token } = await tenantWithOwner(server);
    const { modelId, row } = await pick.prepare(token);
    const { picked, deleted } = await asOwner(server, async (holder) => {
      await holder.query('begin');
      await holder.query(`select 1 from ${row!.table} where id = $1 for update`, [databaseIdOf(row!.id)]);
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const picking = pick.run(token, modelId);
      await untilLockWaiters(server, { blockedBy: holderPid, startingWith: 'update' }, 1, `${name} statements for the held row`);
      const pickPid = await blockedBackend(server, holderPid);
      let answered = false;
      const deleting = gql(server, token, DELETE_MODEL, { id: modelId }).finally(() => (answered = true));
      // Before the fix the delete ran to its end; now it waits for the pick's lock on the model.
      await pollUntil(
        async () => answered || (await lockWaiters(server, { blockedBy: pickPid })) === 1,
        Boolean,
        { timeoutMs: 60_000, intervalMs: 50, failure: () => 'deleteModel neither answered nor waited for the pick' },
      );
      await holder.query('commit');
      return { picked: await picking, deleted: await deleting };
    });
    await expectPickWon(pick, modelId, picked, deleted);
  });

  it('a pick that waits for a deleteModel in flight answers NOT_FOUND (Model), and writes nothing', async () => {
    const pick = PICKS.updateDataset!;
    const { token } = await tenantWithOwner(server);
    const { modelId } = await pick.prepare(token);
    const { datasetId } = datasetEndpointSetup.get(modelId)!;
    const { picked, deleted } = await asOwner(server, async (holder) => {
      await holder.query('begin');
      // Held like an update of the model would hold it: the delete waits for it first, then the
      // pick's share lock queues behind the delete (PostgreSQL serves row-lock waiters in order).
      await holder.query('select 1 from models where id = $1 for no key update', [databaseIdOf(modelId)]);
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const deleting = gql(server, token, DELETE_MODEL, { id: modelId });
      await untilLockWaiters(server, { blockedBy: holderPid }, 1, 'deleteModel statements for the held model');
      const deletePid = await blockedBackend(server, holderPid);
      let answered = false;
      const picking = pick.run(token, modelId).finally(() => (answered = true));
      // Before the fix the pick's foreign key check (KEY SHARE) passed the held row and answered.
      await pollUntil(
        async () => answered || (await lockWaiters(server, { except: [holderPid, deletePid] })) === 1,
        Boolean,
        { timeoutMs: 60_000, intervalMs: 50, failure: () => 'the pick neither answered nor waited behind the delete' },
      );
      await holder.query('commit');
      return { picked: await picking, deleted: await deleting };
    });
    expect(deleted.errors).toBeUndefined();
    expect(deleted.data.deleteModel.id).toBe(modelId);
    expect({ code: codeOf(picked), message: picked.errors?.[0]?.message }).toEqual({ code: 'NOT_FOUND', message: expect.stringMatching(/Model/) });
    expect(await modelOf('datasets', 'embedding_model_id', datasetId)).toBeNull();
    const jobs = await asOwner(server, async (client) => (await client.query('select count(*)::int as n from ingestion_jobs where dataset_id = $1', [databaseIdOf(datasetId)])).rows[0].n);
    expect(jobs).toBe(0);
  });

  it('updateModel changing the vectors of a model a dataset picks meanwhile answers MODEL_IN_USE', async () => {
    const pick = PICKS.updateDataset!;
    const { token } = await tenantWithOwner(server);
    const { modelId } = await pick.prepare(token);
    const { picked, changed } = await asOwner(server, async (holder) => {
      await holder.query('begin');
      await holder.query('select 1 from models where id = $1 for share', [databaseIdOf(modelId)]);
      const holderPid = (await holder.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      const changing = gql(server, token, 'mutation($id: ID!, $input: UpdateModelInput!) { updateModel(id: $id, input: $input) { id config } }', {
        id: modelId,
        input: { config: { baseUrl: fake.baseUrl, model: 'fake-embed', batchSize: 4, dimensions: 8 } },
      });
      await untilLockWaiters(server, { blockedBy: holderPid }, 1, 'updateModel statements for the held model');
      const picked = await pick.run(token, modelId);
      await holder.query('commit');
      return { picked, changed: await changing };
    });
    expect(pick.answered(picked)).toBe(modelId);
    expect({ code: codeOf(changed), reason: changed.errors?.[0]?.extensions?.reason }).toEqual({ code: 'CONFLICT', reason: 'MODEL_IN_USE' });
    const config = await asOwner(server, async (client) => (await client.query('select config from models where id = $1', [databaseIdOf(modelId)])).rows[0].config);
    expect(config.dimensions).toBeUndefined();
  });

  it('updateDataset ‖ deleteModel, many times side by side: every pair ends in one clean outcome', async () => {
    const pick = PICKS.updateDataset!;
    const { token } = await tenantWithOwner(server);
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const { modelId } = await pick.prepare(token);
        const { datasetId } = datasetEndpointSetup.get(modelId)!;
        const [picked, deleted] = await Promise.all([pick.run(token, modelId), gql(server, token, DELETE_MODEL, { id: modelId })]);
        const stored = await modelOf('datasets', 'embedding_model_id', datasetId);
        if (!picked.errors && codeOf(deleted) === 'CONFLICT' && stored === databaseIdOf(modelId) && (await modelExists(modelId))) return 'updateDataset won';
        if (codeOf(picked) === 'NOT_FOUND' && !deleted.errors && stored === null && !(await modelExists(modelId))) return 'deleteModel won';
        return `unclean: updateDataset ${codeOf(picked) ?? 'ok'}, deleteModel ${codeOf(deleted) ?? 'ok'}, dataset's model ${stored === databaseIdOf(modelId) ? 'kept' : String(stored)}`;
      }),
    );
    expect(outcomes.filter((outcome) => outcome.startsWith('unclean'))).toEqual([]);
  });
});
