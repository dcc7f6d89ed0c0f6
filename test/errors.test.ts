/**
 * The error model (src/platform/errors): each code's HTTP status, the GraphQL form of a coded
 * error, the response of a door outside GraphQL, masking, and docs/errors.md listing exactly
 * the codes the module knows, with the status it gives them.
 */
import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import { expect, it } from 'vitest';
import {
  codedErrorResponse,
  codedErrorToGraphQL,
  ERROR_CODES,
  ForbiddenError,
  maskedError,
  RateLimitedError,
  statusInResults,
  toClientError,
  UnauthenticatedError,
  type ErrorCode,
} from '../src/platform/errors/index.js';

/** `| \`CODE\` | HTTP | When |` rows of the docs' tables, per table. */
function documentedCodes(): Map<string, string>[] {
  const tables = readFileSync('docs/errors.md', 'utf8').split(/\n\n+/).filter((block) => block.startsWith('| Code | HTTP |'));
  return tables.map((table) => new Map([...table.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)].map(([, code, http]) => [code!, http!.trim()])));
}

it('docs/errors.md lists every code of the model, and only those, with the status the model gives it', () => {
  const [inResults, beforeGraphQL] = documentedCodes();
  const documented = new Set([...inResults!.keys(), ...beforeGraphQL!.keys()]);
  expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  for (const [code, http] of inResults!) {
    // A result is 200 unless the code says its status there; "200/400": also refused before GraphQL.
    expect(http.split('/')[0], code).toBe(statusInResults(code as ErrorCode) ? String(ERROR_CODES[code as ErrorCode].status) : '200');
  }
  for (const [code, http] of beforeGraphQL!) expect(http, code).toBe(String(ERROR_CODES[code as ErrorCode].status));
});

it('gives a GraphQL result the status and headers of 401 and 429 only', () => {
  expect(codedErrorToGraphQL(new UnauthenticatedError('Invalid API key', { reason: 'invalid' })).extensions).toEqual({
    code: 'UNAUTHENTICATED',
    reason: 'invalid',
    http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } },
  });
  expect(codedErrorToGraphQL(new RateLimitedError('Too many requests: retry in 7 s', 7)).extensions).toEqual({
    code: 'RATE_LIMITED',
    retryAfterSeconds: 7,
    http: { status: 429, headers: { 'Retry-After': '7' } },
  });
  expect(codedErrorToGraphQL(new ForbiddenError('No', { reason: 'role' })).extensions).toEqual({ code: 'FORBIDDEN', reason: 'role' });
});

it('answers a door outside GraphQL with the code’s status, its headers and the { errors } body', async () => {
  const response = codedErrorResponse({ Response }, new RateLimitedError('Too many requests: retry in 3 s', 3));
  expect(response.status).toBe(429);
  expect(Object.fromEntries(response.headers)).toEqual({ 'content-type': 'application/json; charset=utf-8', 'retry-after': '3' });
  expect(await response.text()).toBe('{"errors":[{"message":"Too many requests: retry in 3 s","extensions":{"code":"RATE_LIMITED","retryAfterSeconds":3}}]}');
});

it('codes graphql-js’s own errors as BAD_USER_INPUT and leaves the unexpected to be masked', () => {
  expect(toClientError(new GraphQLError('Unknown argument "x"'))?.extensions).toEqual({ code: 'BAD_USER_INPUT' });
  const unexpected = new GraphQLError('connection refused', { originalError: new Error('connection refused') });
  expect(toClientError(unexpected)).toBeUndefined();
  expect(maskedError(unexpected, 'req-1', false)).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL', requestId: 'req-1' } });
  expect(toClientError(new GraphQLError('x', { originalError: new ForbiddenError('No') }), { presentDetails: (d) => ({ ...d, shown: true }) })?.extensions).toEqual({
    code: 'FORBIDDEN',
    shown: true,
  });
});
