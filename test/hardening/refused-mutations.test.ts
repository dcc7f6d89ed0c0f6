/**
 * A refused mutation field writes nothing, and the fields before it in the same operation keep
 * what they wrote (graphql/mutation-savepoints.ts). The operation's transaction commits with
 * field errors included; `updateEndpoint` used to set the name and description, then refuse the
 * model, and commit the first two.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { databaseIdOf } from '../support/global-ids.js';
import { createModel, endpointOver, uniqueSlug } from '../support/endpoints.js';
import { tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const stored = (endpointId: string) =>
  withClient(server.database.ownerUrl, async (client) => (await client.query('select name, description, model_id as "modelId" from endpoints where id = $1', [databaseIdOf(endpointId)])).rows[0]);

async function endpointAndEmbeddingsModel() {
  const { token } = await tenantWithOwner(server);
  const setup = await endpointOver(server, token, [{ title: 'Lamps', text: 'The lamp is wound at dusk.' }]);
  // Not a model an endpoint can answer with: updateEndpoint refuses it as modelId.
  const embeddings = await createModel(server, token, { name: uniqueSlug('embeddings'), type: 'openai-compatible-embeddings', config: { baseUrl: 'http://127.0.0.1:9/v1', model: 'unused', dimensions: 3 } });
  return { token, endpointId: setup.endpointId, refusedModelId: embeddings.id };
}

it('writes none of a refused field: the name and description set before the refused model stay as they were', async () => {
  const { token, endpointId, refusedModelId } = await endpointAndEmbeddingsModel();
  const before = await stored(endpointId);
  const { body } = await server.graphql('mutation($id: ID!, $input: UpdateEndpointInput!) { updateEndpoint(id: $id, input: $input) { id } }', {
    token,
    variables: { id: endpointId, input: { name: 'Renamed', description: 'Changed', modelId: refusedModelId } },
  });
  expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(await stored(endpointId)).toEqual(before);
});

it('keeps what the fields before a refused one wrote, in the same operation', async () => {
  const { token, endpointId, refusedModelId } = await endpointAndEmbeddingsModel();
  const before = await stored(endpointId);
  const { body } = await server.graphql(
    `mutation($id: ID!, $refused: ID!) {
       first: updateEndpoint(id: $id, input: { description: "Kept" }) { description }
       second: updateEndpoint(id: $id, input: { name: "Renamed", modelId: $refused }) { name }
     }`,
    { token, variables: { id: endpointId, refused: refusedModelId } },
  );
  // The field is non-null, so its error nulls the whole `data`; the first field ran all the same.
  expect(body.data).toBeNull();
  expect(body.errors?.map((error: { path: string[] }) => error.path)).toEqual([['second']]);
  expect(await stored(endpointId)).toEqual({ ...before, description: 'Kept' });
});
