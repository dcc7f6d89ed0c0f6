/** Models, endpoints and queries over the real API, for the endpoint tests. */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createDataset, ingestInline, settled, type InlineDocument } from './ingestion.js';
import { withClient } from '../../src/db/bootstrap.js';
import type { TestServer } from './server.js';
import { uniqueSlug } from './unique-names.js';
import { databaseIdOf } from './global-ids.js';

export { uniqueSlug };

export const PASSAGE_FIELDS = 'rank chunkId documentId documentTitle text score highlight metadata';
export const RESULT_FIELDS = `passages { ${PASSAGE_FIELDS} } answer citations { marker chunkId documentTitle } usage { promptTokens completionTokens totalTokens costMicros } latencyMs`;
export const EVENT_FIELDS = `__typename
  ... on EndpointQueryRetrieved { passage { rank chunkId documentTitle } }
  ... on EndpointQueryAnswerDelta { text }
  ... on EndpointQueryUsage { usage { promptTokens completionTokens totalTokens costMicros } }
  ... on EndpointQueryCompleted { answer citations { marker chunkId } latencyMs }
  ... on EndpointQueryFailed { code message }`;

export async function gql(server: TestServer, token: string, query: string, variables: Record<string, unknown> = {}) {
  const { body } = await server.graphql(query, { token, variables });
  return body;
}

/** Succeeds or throws with the errors: for setup steps. */
export async function must(server: TestServer, token: string, query: string, variables: Record<string, unknown> = {}) {
  const body = await gql(server, token, query, variables);
  if (body.errors) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(body.errors)}`);
  return body.data;
}

export async function createModel(server: TestServer, token: string, input: Record<string, unknown>) {
  const data = await must(server, token, `mutation($input: CreateModelInput!) { createModel(input: $input) { id name type apiKeySet apiKeyLast4 } }`, {
    input,
  });
  return data.createModel as { id: string; name: string; type: string; apiKeySet: boolean; apiKeyLast4: string | null };
}


export interface EndpointSetup {
  datasetId: string;
  modelId: string;
  endpointId: string;
  reference: string;
}

/** A dataset with `documents` ingested, a model (extractive unless given) and an endpoint over them. */
export async function endpointOver(
  server: TestServer,
  token: string,
  documents: InlineDocument[],
  options: { model?: Record<string, unknown>; published?: boolean; retrieval?: Record<string, unknown>; ingestion?: Record<string, unknown>; dataset?: Record<string, unknown>; slug?: string } = {},
): Promise<EndpointSetup> {
  const dataset = await createDataset(server, token, options.dataset);
  const { body } = await ingestInline(server, token, dataset.id, documents, options.ingestion);
  const job = await settled(server, token, body.data.ingestDocuments.id);
  if (job.stage !== 'COMPLETED') throw new Error(`ingestion ended ${job.stage}`);
  const model = await createModel(server, token, options.model ?? { name: uniqueSlug('extractive'), type: 'extractive' });
  const data = await must(server, token, `mutation($input: CreateEndpointInput!) { createEndpoint(input: $input) { id reference } }`, {
    input: {
      name: 'Docs',
      slug: options.slug ?? uniqueSlug('ep'),
      datasetIds: [dataset.id],
      modelId: model.id,
      published: options.published ?? false,
      retrieval: options.retrieval,
    },
  });
  return { datasetId: dataset.id, modelId: model.id, endpointId: data.createEndpoint.id, reference: data.createEndpoint.reference };
}

export function queryEndpoint(server: TestServer, token: string, endpoint: string, query: string, options?: Record<string, unknown>, fields = RESULT_FIELDS) {
  return gql(server, token, `query($e: String!, $q: String!, $o: QueryOptionsInput) { queryEndpoint(endpoint: $e, query: $q, options: $o) { ${fields} } }`, {
    e: endpoint,
    q: query,
    o: options,
  });
}

/** The `endpointQuery` subscription over graphql-ws: every result until it completes. */
export async function endpointQueryOverWebSocket(server: TestServer, token: string, endpoint: string, query: string) {
  const client = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` } });
  const results: any[] = [];
  try {
    for await (const result of client.iterate({
      query: `subscription($e: String!, $q: String!) { endpointQuery(endpoint: $e, query: $q) { ${EVENT_FIELDS} } }`,
      variables: { e: endpoint, q: query },
    })) {
      results.push(result);
      if (result.errors) break;
    }
  } finally {
    await client.dispose();
  }
  return results;
}

/**
 * The outcomes of an endpoint's usage records, oldest first, read as the owner once at least
 * `atLeast` exist, or at the deadline (a finished query is recorded before its completion is
 * sent; a cancelled or failed one as it ends, which may be after its response).
 */
export async function usageOutcomes(database: { ownerUrl: string }, endpointId: string, atLeast = 0, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcomes = await withClient(database.ownerUrl, async (client) => {
      const { rows } = await client.query<{ outcome: string }>('select outcome from usage_records where endpoint_id = $1 order by created_at, id', [databaseIdOf(endpointId)]);
      return rows.map((row) => row.outcome);
    });
    if (outcomes.length >= atLeast || Date.now() > deadline) return outcomes;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
