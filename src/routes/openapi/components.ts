/**
 * What every REST route's description shares in the OpenAPI document: the RFC 9457 problem
 * details schema (platform/errors/http.ts `problemResponse` writes it), the security schemes
 * (the credentials the one Authenticator takes), and problem responses by status.
 */
import { ERROR_CODES } from '../../platform/errors/index.js';

export type JsonObject = Record<string, unknown>;

/** Where a schema of `components.schemas` is, for `$ref`. */
export const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export const sharedSchemas: Record<string, JsonObject> = {
  ProblemDetails: {
    type: 'object',
    description:
      'RFC 9457 problem details. `code` is the same code a GraphQL error carries in `extensions.code` (docs/errors.md); the code’s own details (`retryAfterSeconds`, `policyId`, `policyType`, `reason`, `issues`, …) are members beside it.',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string', format: 'uri', description: '`urn:sluice:error:<CODE>`', examples: ['urn:sluice:error:NOT_FOUND'] },
      title: { type: 'string', description: 'The code.' },
      status: { type: 'integer', minimum: 400, maximum: 599, description: 'This response’s HTTP status.' },
      detail: { type: 'string', description: 'For people; match on `code`, never on this.' },
      instance: { type: 'string', description: '`urn:request:<request id>`' },
      requestId: { type: 'string', description: 'Also the `x-request-id` response header: finds the request in the server logs.' },
      code: { type: 'string', enum: Object.keys(ERROR_CODES) },
      retryAfterSeconds: { type: 'integer', minimum: 1, description: 'RATE_LIMITED: when to try again (also `Retry-After`).' },
      policyId: { type: 'string', description: 'POLICY_DENIED / RATE_LIMITED by a policy: the policy’s global id, for callers of the endpoint’s own tenant only (docs/policies.md).' },
      policyType: { type: 'string' },
      reason: { type: 'string' },
      upstreamStatus: { type: 'integer', description: 'UPSTREAM_ERROR with reason HTTP_ERROR: the status the model server answered.' },
      issues: {
        type: 'array',
        description: 'BAD_USER_INPUT: where the input is wrong.',
        items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } },
      },
    },
    additionalProperties: true,
  },
};

export const securitySchemes = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description: 'An access token (from `POST /api/v1/auth/login` or the `logIn` mutation), an API key, or a token of an identity provider the tenant registered.',
  },
  apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key (`sk_…`), for clients that cannot set `Authorization`.' },
} as const;

/** Either credential; `{}` too where no credential is also allowed (the route says what it then does). */
export const anyCredential = [{ bearerAuth: [] }, { apiKeyAuth: [] }];

const problemContent = { 'application/problem+json': { schema: schemaRef('ProblemDetails') } };

/** A problem response: `description` says which codes come with this status. */
export function problem(description: string, headers: JsonObject = {}): JsonObject {
  return { description, content: problemContent, ...(Object.keys(headers).length ? { headers } : {}) };
}

export const retryAfterHeader = { 'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'integer', minimum: 1 } } };
export const wwwAuthenticateHeader = { 'WWW-Authenticate': { description: '`Bearer`', schema: { type: 'string' } } };
export const requestIdHeader = { 'x-request-id': { description: 'The request id (the caller’s own if it sent a plain one).', schema: { type: 'string' } } };
