/**
 * The OpenAPI description of the REST routes that came before the consumer surfaces, as they
 * answer today: `POST /api/v1/auth/login` (routes/auth-login.ts: OAuth2-style token and
 * errors) and `GET /api/v1/audit/events.jsonl` (routes/audit-export.ts: JSON Lines, errors in
 * the GraphQL `{ errors }` shape).
 */
import { AUDIT_EXPORT_PATH } from '../audit-export.js';
import { REST_LOGIN_PATH } from '../auth-login.js';
import { anyCredential, retryAfterHeader, schemaRef, type JsonObject } from './components.js';

const json = (schema: JsonObject) => ({ 'application/json': { schema } });

export const accountSchemas: Record<string, JsonObject> = {
  LoginRequest: {
    type: 'object',
    required: ['email', 'password'],
    properties: {
      email: { type: 'string', maxLength: 320 },
      password: { type: 'string', maxLength: 4096 },
      tenant: { type: 'string', maxLength: 100, description: 'Which of your tenants (slug) the token is for; your first one otherwise.' },
    },
  },
  TokenResponse: {
    type: 'object',
    required: ['access_token', 'token_type', 'expires_in', 'refresh_token', 'tenant', 'role'],
    properties: {
      access_token: { type: 'string', description: 'Send as `Authorization: Bearer <access_token>`.' },
      token_type: { const: 'bearer' },
      expires_in: { type: 'integer', description: 'Seconds.' },
      refresh_token: { type: 'string', description: 'For the `refreshSession` mutation.' },
      tenant: { type: 'string', description: 'The tenant’s slug.' },
      role: { type: 'string', enum: ['OWNER', 'ADMIN', 'MEMBER', 'VIEWER'] },
    },
  },
  OAuthError: {
    type: 'object',
    description: 'An OAuth2-style error (RFC 6749 §5.2), with Sluice’s code beside it where it has one.',
    required: ['error', 'error_description'],
    properties: {
      error: { type: 'string', enum: ['invalid_request', 'invalid_grant', 'server_error'] },
      error_description: { type: 'string' },
      code: { type: 'string' },
      retryAfterSeconds: { type: 'integer' },
      requestId: { type: 'string', description: 'On server_error (its cause is logged under it) and temporarily_unavailable: the request id, also the `x-request-id` header.' },
    },
  },
  GraphQLErrors: {
    type: 'object',
    description: 'The errors of a GraphQL response: match on `extensions.code`.',
    required: ['errors'],
    properties: {
      errors: {
        type: 'array',
        items: {
          type: 'object',
          required: ['message', 'extensions'],
          properties: {
            message: { type: 'string' },
            extensions: {
              type: 'object',
              required: ['code'],
              properties: { code: { type: 'string' }, requestId: { type: 'string', description: 'On INTERNAL (its cause is logged under it) and UNAVAILABLE: the request id, also the `x-request-id` header.' } },
            },
          },
        },
      },
    },
  },
  AuditEventLine: {
    type: 'object',
    description: 'One line of the export: an audit event.',
    required: ['id', 'seq', 'createdAt', 'action', 'outcome', 'actorKind', 'actorId', 'payload', 'personal', 'hash'],
    properties: {
      id: { type: 'string' },
      seq: { type: 'string', description: 'The event’s place in the tenant’s chain (a decimal integer).' },
      createdAt: { type: 'string', format: 'date-time' },
      action: { type: 'string' },
      outcome: { type: 'string' },
      actorKind: { type: 'string' },
      actorId: { type: ['string', 'null'] },
      payload: { type: 'object', description: 'The hashed part of the event.' },
      personal: { type: 'object', description: 'Personal data, outside the hash (erasable).' },
      hash: { type: 'string', description: 'Hex SHA-256 of the chain up to this event.' },
    },
  },
};

const oauthError = (description: string, headers?: JsonObject) => ({ description, content: json(schemaRef('OAuthError')), ...(headers ? { headers } : {}) });
const graphqlError = (description: string) => ({ description, content: json(schemaRef('GraphQLErrors')) });
const dateTime = (name: string, description: string) => ({ name, in: 'query', required: false, description, schema: { type: 'string', format: 'date-time' } });
const text = (name: string, description: string) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } });

export const accountPaths: Record<string, JsonObject> = {
  [REST_LOGIN_PATH]: {
    post: {
      operationId: 'logIn',
      summary: 'Sign in with email and password: an access token',
      description: 'The `logIn` mutation for plain HTTP clients: same rules, limits and errors. Send JSON (a form or text/plain post needs an `x-sluice-csrf` header).',
      tags: ['Accounts'],
      security: [{}],
      requestBody: { required: true, content: json(schemaRef('LoginRequest')) },
      responses: {
        '200': { description: 'Signed in.', content: json(schemaRef('TokenResponse')) },
        '400': oauthError('invalid_request: the body is not the JSON asked for (`code` BAD_REQUEST for bytes that are not UTF-8, BAD_USER_INPUT for NUL).'),
        '401': oauthError('invalid_grant: wrong email or password (`code` UNAUTHENTICATED).'),
        '403': oauthError('CSRF_HEADER_REQUIRED: a simple cross-site request without `x-sluice-csrf`.'),
        '405': oauthError('Use POST.'),
        '429': oauthError('Too many attempts for this email or address (`code` RATE_LIMITED, `retryAfterSeconds`).', retryAfterHeader),
        '500': oauthError('server_error: unexpected (`code` INTERNAL, `requestId`).'),
        '503': oauthError('temporarily_unavailable: the database could not serve the request just now (`code` UNAVAILABLE, `retryAfterSeconds`, `requestId`).', retryAfterHeader),
      },
    },
  },
  [AUDIT_EXPORT_PATH]: {
    get: {
      operationId: 'exportAuditEvents',
      summary: 'The tenant’s audit events as JSON Lines, oldest first (ADMIN)',
      tags: ['Audit'],
      security: anyCredential,
      parameters: [
        dateTime('from', 'Events at or after this time.'),
        dateTime('to', 'Events before this time.'),
        text('action', 'Only this action (e.g. `rest.query`).'),
        text('actor', 'Only this actor id.'),
        text('outcome', 'Only this outcome (e.g. `ok`, `NOT_FOUND`).'),
      ],
      responses: {
        '200': {
          description: 'One audit event per line (`application/x-ndjson`), streamed.',
          // Each line is one JSON object of this schema.
          content: { 'application/x-ndjson': { schema: schemaRef('AuditEventLine') } },
        },
        '400': graphqlError('BAD_USER_INPUT: a parameter is not a date-time, or holds NUL.'),
        '401': graphqlError('UNAUTHENTICATED: no credential, or one that is not valid.'),
        '403': graphqlError('FORBIDDEN: the caller is not an ADMIN (or the API key has no `admin` scope), or calls from outside the tenant’s IP allow-list (`extensions.reason` IP_NOT_ALLOWED).'),
        '405': graphqlError('Use GET.'),
        '429': { ...graphqlError('RATE_LIMITED: the per-address or the per-caller limit (`extensions.retryAfterSeconds`).'), headers: retryAfterHeader },
        '500': graphqlError('INTERNAL: unexpected; `extensions.requestId` names the request.'),
      },
    },
  },
};
