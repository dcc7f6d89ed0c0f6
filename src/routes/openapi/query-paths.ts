/**
 * The OpenAPI description of `POST /api/v1/endpoints/{tenant}/{endpoint}/query`
 * (routes/endpoint-query.ts): its body schema is the route's own zod schema, so the two
 * cannot drift; the answer's schemas follow GraphQL's `QueryResult` and event types.
 */
import { z } from 'zod';
import { QueryRequestBody } from '../endpoint-query.js';
import { anyCredential, problem, requestIdHeader, retryAfterHeader, schemaRef, wwwAuthenticateHeader, type JsonObject } from './components.js';

const { $schema: _dialect, ...requestSchema } = z.toJSONSchema(QueryRequestBody, { io: 'input' });

const integer = { type: 'integer' };
const object = (properties: JsonObject, description?: string): JsonObject => ({
  type: 'object',
  ...(description ? { description } : {}),
  required: Object.keys(properties),
  properties,
});

export const querySchemas: Record<string, JsonObject> = {
  QueryRequest: requestSchema,
  Passage: object({
    rank: { type: 'integer', minimum: 1, description: '1 for the best match.' },
    chunkId: { type: 'string' },
    documentId: { type: 'string' },
    documentTitle: { type: 'string' },
    text: { type: 'string' },
    score: { type: 'number', description: 'Higher is better; comparable within one query.' },
    highlight: { type: 'string', description: 'The best fragments, matches wrapped in ** (Markdown bold, never HTML). Stars and backslashes of the text itself come escaped with a backslash (\\*, \\\\), so ** is always a marker.' },
    metadata: { type: 'object', additionalProperties: true },
    ranks: object(
      { keyword: { type: ['integer', 'null'] }, semantic: { type: ['integer', 'null'] } },
      'Where each ranking placed the passage (1 is first); null where it did not place it or did not run.',
    ),
  }),
  Citation: object({
    marker: { type: 'integer', description: 'The n of the answer’s [n]: the passage’s rank.' },
    chunkId: { type: 'string' },
    documentTitle: { type: 'string' },
  }),
  Usage: object({ promptTokens: integer, completionTokens: integer, totalTokens: integer, costMicros: { type: 'integer', description: 'From the model’s prices, in micro-units.' } }),
  QueryAnswer: object(
    {
      passages: { type: 'array', items: schemaRef('Passage'), description: 'Best first.' },
      answer: { type: 'string' },
      citations: { type: 'array', items: schemaRef('Citation') },
      usage: schemaRef('Usage'),
      latencyMs: integer,
    },
    'The fields of GraphQL’s `queryEndpoint` result.',
  ),
  // The data of each Server-Sent Event: the fields of the `endpointQuery` subscription's types.
  PassageEvent: object({ passage: schemaRef('Passage') }, '`event: passage` (EndpointQueryRetrieved), one per passage, best first.'),
  AnswerDeltaEvent: object({ text: { type: 'string' } }, '`event: answerDelta` (EndpointQueryAnswerDelta): the next piece of the answer.'),
  UsageEvent: object({ usage: schemaRef('Usage') }, '`event: usage` (EndpointQueryUsage).'),
  CompletedEvent: object(
    { answer: { type: 'string' }, citations: { type: 'array', items: schemaRef('Citation') }, latencyMs: integer },
    '`event: completed` (EndpointQueryCompleted): the last event of a query that finished.',
  ),
  FailedEvent: {
    ...object({ code: { type: 'string' }, message: { type: 'string' } }, '`event: failed` (EndpointQueryFailed): the last event of a query that failed after the stream started.'),
    properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string', description: 'With INTERNAL and UNAVAILABLE only.' } },
  },
};

const SSE_DESCRIPTION = [
  'With `Accept: text/event-stream`: Server-Sent Events, each `event: <name>` and `data: <JSON>` (one line).',
  'In order: `passage` (each), `answerDelta` (each piece), `usage`, then `completed`; or a last `failed` with the code.',
  'Lines starting with `:` are keep-alive comments. Closing the connection cancels the query.',
].join(' ');

export const queryPaths: Record<string, JsonObject> = {
  '/api/v1/endpoints/{tenant}/{endpoint}/query': {
    post: {
      operationId: 'queryEndpoint',
      summary: 'Ask an endpoint: passages, answer, citations, usage (JSON), or the same as events (SSE)',
      description:
        'The same query, policies, limits, usage and audit as GraphQL’s `queryEndpoint` and `endpointQuery`. Reaches the caller’s own tenant’s endpoints and other tenants’ published ones; anything else is NOT_FOUND. The body must be `application/json` (415 otherwise). `Accept: application/json` (the default) answers once; `Accept: text/event-stream` streams events.',
      tags: ['Endpoints'],
      security: [...anyCredential, {}],
      parameters: [
        { name: 'tenant', in: 'path', required: true, description: 'The endpoint owner’s tenant slug.', schema: { type: 'string' } },
        { name: 'endpoint', in: 'path', required: true, description: 'The endpoint’s slug.', schema: { type: 'string' } },
      ],
      requestBody: { required: true, content: { 'application/json': { schema: schemaRef('QueryRequest') } } },
      responses: {
        '200': {
          description: 'The answer (JSON), or its events (SSE).',
          headers: requestIdHeader,
          content: {
            'application/json': { schema: schemaRef('QueryAnswer') },
            'text/event-stream': {
              schema: {
                type: 'string',
                description: SSE_DESCRIPTION,
                contentMediaType: 'text/event-stream',
              },
              examples: {
                answer: {
                  value: 'event: passage\ndata: {"passage":{"rank":1,…}}\n\nevent: answerDelta\ndata: {"text":"The keeper…"}\n\nevent: usage\ndata: {"usage":{…}}\n\nevent: completed\ndata: {"answer":"…","citations":[…],"latencyMs":42}\n\n',
                },
              },
            },
          },
        },
        '400': problem('BAD_REQUEST (the body is not UTF-8 or not JSON) or BAD_USER_INPUT (`issues`: an unknown field, a wrong type, NUL, a query of 0 or over 8192 characters or over 100 different words, a search past its time limit (QUERY_TOO_COSTLY), topK outside 1–50, a malformed endpoint address).'),
        '401': problem('UNAUTHENTICATED: a credential that is not valid, or none where one is needed.', wwwAuthenticateHeader),
        '403': problem('POLICY_DENIED (`policyType`, `reason`; `policyId` for the endpoint’s own tenant’s callers), or FORBIDDEN (the credential lacks the `read` scope, or the client address is outside the tenant’s allow-list).'),
        '404': problem('NOT_FOUND: no such endpoint for this caller (another tenant’s unpublished endpoint looks exactly like a missing one).'),
        '405': problem('METHOD_NOT_ALLOWED: use POST.'),
        '413': problem('PAYLOAD_TOO_LARGE: the body is over 128 KiB.'),
        '415': problem('UNSUPPORTED_MEDIA_TYPE: send `Content-Type: application/json`.'),
        '429': problem('RATE_LIMITED: per address, per caller, or by the endpoint’s policies (`retryAfterSeconds`).', retryAfterHeader),
        '500': problem('INTERNAL: unexpected; the message is masked, `requestId` finds it in the logs.'),
        '502': problem('UPSTREAM_ERROR: the model server failed (`reason`, `attempts`). Over SSE after the stream started, a `failed` event instead.'),
        '503': problem('MODEL_UNAVAILABLE: the endpoint’s model is DOWN by its health checks; or UNAVAILABLE: the database could not serve the request just now (`reason`), send it again after `Retry-After`.', retryAfterHeader),
      },
    },
  },
};
