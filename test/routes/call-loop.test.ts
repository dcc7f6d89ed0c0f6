/**
 * A model whose server is this Sluice deployment itself (its OpenAI-compatible door, with an
 * API key of the tenant's own, naming an endpoint answered by that same model) used to turn one
 * question into about 190 requests in 15 s, each level asking again, until rate limits stopped
 * it. Every model call carries `Sluice-Hop` with the deployment's mark, and the doors refuse
 * it: the question fails with the model server's (Sluice's) 508, after one inner request.
 * Through the real server over HTTP; no test double: the model server is the server.
 */
import { expect, it } from 'vitest';
import { hopMarkOf } from '../../src/platform/http/call-loops.js';
import { endpointOver, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { createApiKey } from '../support/identity.js';
import { serverWithOwner } from '../support/ingestion.js';

const context = serverWithOwner();
const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];

it('refuses a request carrying this deployment’s hop mark on every door, and only that mark', async () => {
  const { server } = context;
  const mark = hopMarkOf(server.config.secrets.masterKey);
  const post = (path: string, hop: string) =>
    fetch(`${server.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-sluice-csrf': '1', 'sluice-hop': hop }, body: '{"model":"a/b","messages":[],"query":"{ __typename }"}' });
  const chat = await post('/v1/chat/completions', mark);
  expect(chat.status).toBe(508);
  expect((await chat.json()).error).toMatchObject({ code: 'LOOP_DETECTED' });
  const graphql = await post('/graphql', mark);
  expect(graphql.status).toBe(508);
  expect((await graphql.json()).errors[0].extensions.code).toBe('LOOP_DETECTED');
  // Another deployment's mark is an ordinary request (here: refused for what it is, an empty chat).
  const other = await post('/v1/chat/completions', 'another-deployments-mark');
  expect(other.status).toBe(400);
  expect((await other.json()).error.code).toBe('BAD_USER_INPUT');
});

it('stops a model that is this deployment after one inner request, and the question says why', async () => {
  const { server, owner } = context;
  const key = (await createApiKey(server, owner.token, { name: 'loop', scopes: ['READ'] })).body.data.createApiKey.secret as string;
  const slug = uniqueSlug('loop');
  // The endpoint's model asks this server's OpenAI door for the endpoint itself.
  const setup = await endpointOver(server, owner.token, DOCS, {
    model: { name: uniqueSlug('self'), type: 'openai-compatible', config: { baseUrl: `${server.baseUrl}/v1`, model: `${owner.tenant.slug}/${slug}` }, apiKey: key },
    slug,
  });
  const seen = server.logs.length;
  const body = await queryEndpoint(server, owner.token, setup.reference, 'sluice gates', undefined, 'answer');
  expect(body.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', reason: 'HTTP_ERROR', status: 508 });
  const inner = server.logs.slice(seen).filter((line) => line.path === '/v1/chat/completions');
  expect(inner.map((line) => line.status)).toEqual([508]);
});
