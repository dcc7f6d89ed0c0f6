/**
 * The OpenAPI 3.1 description of the catalog route (routes/catalog.ts), as plain objects the
 * /api/v1/openapi.json composer merges: `catalogPaths` under `paths`, `catalogSchemas` under
 * `components.schemas`. Errors refer to the problem details schema the composer provides
 * (`PROBLEM_DETAILS_REF`); security schemes are the composer's too.
 */
import { MAX_CATALOG_SEARCH } from '../../domains/endpoints/catalog.service.js';
import { RATE_LIMIT_SOURCES, RATE_LIMIT_SUBJECTS } from '../../domains/endpoints/catalog-limits.js';
import { RETRIEVAL_MODES } from '../../domains/endpoints/endpoint.entity.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../../domains/pagination.js';
import { PROBLEM_JSON } from '../../platform/errors/index.js';
import { CATALOG_PATH } from '../catalog.js';
import { retryAfterHeader } from './components.js';

/** Where the composer keeps the RFC 9457 problem details schema. */
export const PROBLEM_DETAILS_REF = '#/components/schemas/ProblemDetails';

const problem = (description: string) => ({ description, content: { [PROBLEM_JSON]: { schema: { $ref: PROBLEM_DETAILS_REF } } } });

export const catalogSchemas = {
  CatalogRateLimit: {
    type: 'object',
    description: 'A rate limit a consumer of the endpoint meets: at most `requests` per `periodSeconds`, shared `per` this.',
    required: ['per', 'source', 'requests', 'periodSeconds', 'burst', 'rule'],
    additionalProperties: false,
    properties: {
      per: { type: 'string', enum: [...RATE_LIMIT_SUBJECTS], description: 'Who shares one allowance.' },
      source: { type: 'string', enum: [...RATE_LIMIT_SOURCES], description: "The server's settings, the caller's tenant's settings, or an endpoint policy." },
      requests: { type: 'integer', minimum: 1 },
      periodSeconds: { type: 'integer', minimum: 1 },
      burst: { type: ['integer', 'null'], description: 'Most requests at once (token buckets); null for a sliding window (policies).' },
      rule: { type: 'string', examples: ['5 per 60 s per caller'] },
    },
  },
  CatalogEntry: {
    type: 'object',
    description: 'A listed endpoint, as any caller may see it (the same as GraphQL `CatalogEntry`).',
    required: ['address', 'tenant', 'name', 'description', 'datasets', 'modelKind', 'retrievalMode', 'access', 'health'],
    additionalProperties: false,
    properties: {
      address: { type: 'string', pattern: '^[a-z0-9-]{1,64}/[a-z0-9-]{3,64}$', description: 'What queries name: tenantSlug/endpointSlug.', examples: ['acme/handbook'] },
      tenant: {
        type: 'object',
        required: ['slug', 'name'],
        additionalProperties: false,
        properties: { slug: { type: 'string' }, name: { type: 'string' } },
      },
      name: { type: 'string' },
      description: { type: ['string', 'null'] },
      datasets: {
        type: 'object',
        description: "What the endpoint's datasets hold, summed over them.",
        required: ['documentCount', 'chunkCount', 'lastIngestedAt'],
        additionalProperties: false,
        properties: {
          documentCount: { type: 'integer', minimum: 0 },
          chunkCount: { type: 'integer', minimum: 0 },
          lastIngestedAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      modelKind: { type: 'string', description: "The model's type; never its name, URL or key.", examples: ['extractive', 'openai-compatible'] },
      retrievalMode: { type: 'string', enum: [...RETRIEVAL_MODES] },
      access: {
        type: 'object',
        description: 'What a consumer must satisfy.',
        required: ['credentialRequired', 'rateLimits'],
        additionalProperties: false,
        properties: {
          credentialRequired: { type: 'boolean' },
          rateLimits: { type: 'array', items: { $ref: '#/components/schemas/CatalogRateLimit' } },
        },
      },
      health: {
        type: ['object', 'null'],
        description: "The worst of its models' health at the last check (docs/endpoints.md#health); null before the first.",
        required: ['status', 'lastCheckedAt', 'latencyMs', 'lastError'],
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['HEALTHY', 'DEGRADED', 'DOWN'] },
          lastCheckedAt: { type: 'string', format: 'date-time' },
          latencyMs: { type: ['integer', 'null'], minimum: 0, description: 'The last check’s time; null when it failed.' },
          lastError: { type: ['string', 'null'], description: 'Why the last failed check failed (redacted; the model named by role only); null when healthy.' },
        },
      },
    },
  },
  CatalogPage: {
    type: 'object',
    required: ['items', 'pageInfo'],
    additionalProperties: false,
    properties: {
      items: { type: 'array', items: { $ref: '#/components/schemas/CatalogEntry' } },
      pageInfo: {
        type: 'object',
        required: ['hasNextPage', 'endCursor'],
        additionalProperties: false,
        properties: {
          hasNextPage: { type: 'boolean' },
          endCursor: { type: ['string', 'null'], description: 'Pass as `after` for the next page.' },
        },
      },
    },
  },
} as const;

export const catalogPaths = {
  [CATALOG_PATH]: {
    get: {
      operationId: 'listCatalog',
      summary: 'Browse the catalog of listed endpoints',
      description:
        'Listed endpoints of every tenant, ordered by tenant slug then endpoint slug. Open to any caller: a credential is optional (a bad one is refused). Rate limited and audited like every consumer route.',
      tags: ['Catalog'],
      security: [{}, { bearerAuth: [] }, { apiKeyAuth: [] }],
      parameters: [
        {
          name: 'search',
          in: 'query',
          required: false,
          description: 'Plain text (no wildcards) matched case-insensitively against name, description, tenant and address.',
          schema: { type: 'string', maxLength: MAX_CATALOG_SEARCH },
        },
        { name: 'first', in: 'query', required: false, description: 'Page size.', schema: { type: 'integer', minimum: 0, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } },
        { name: 'after', in: 'query', required: false, description: 'The `endCursor` of the previous page.', schema: { type: 'string' } },
      ],
      responses: {
        '200': { description: 'A page of the catalog.', content: { 'application/json': { schema: { $ref: '#/components/schemas/CatalogPage' } } } },
        '400': problem('BAD_USER_INPUT: page size out of range, malformed cursor, NUL or unknown parameter.'),
        '401': problem('UNAUTHENTICATED: a credential was given and is not valid.'),
        '403': problem('FORBIDDEN: the caller’s tenant does not allow their address.'),
        '405': problem('METHOD_NOT_ALLOWED: use GET.'),
        '429': problem('RATE_LIMITED: per address or per caller; see Retry-After.'),
        '500': problem('INTERNAL: unexpected; quote the request id.'),
        '503': { ...problem('UNAVAILABLE: the database could not serve the request just now (`reason`); send it again after Retry-After.'), headers: retryAfterHeader },
      },
    },
  },
} as const;
