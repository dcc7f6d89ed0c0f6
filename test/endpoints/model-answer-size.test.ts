/**
 * A model server's answer is read within bounds (models/providers/openai-http.ts,
 * ANSWER_LIMITS; platform/egress/bounded-body.ts): its address is a tenant's choice, so is the
 * size of what it sends, and the answer used to be read whole into the serving process before
 * any check (400 MB took the process to 1.5 GB and stalled every tenant). Past the bound the
 * call is UPSTREAM_ERROR BAD_RESPONSE and nothing more is read; the same answers, a little
 * padded but within the bound, still work, so the refusals are about size alone.
 *
 * fake-openai is a test double for a third-party model server: a real HTTP server on 127.0.0.1
 * speaking the real chat completions and `/v1/embeddings` protocols; its answers are padded
 * with whitespace (still valid JSON) or carry one oversized streamed piece.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModel, endpointOver, must, queryEndpoint, uniqueSlug } from '../support/endpoints.js';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.js';
import { tenantWithOwner, type Tenant } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

const TEST = 'mutation($id: ID!) { testModel(id: $id) { ok error } }';
const DOCS = [{ title: 'Locks', text: 'The lock keeper opens the sluice gates to fill the chamber.' }];
const MiB = 1024 * 1024;

let server: TestServer;
let fake: FakeOpenAI;
let owner: Tenant;
beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer({ env: { SLUICE_MODEL_MAX_RETRIES: '0' } });
  owner = await tenantWithOwner(server);
});
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

describe('an embeddings answer', () => {
  it('larger than its texts and dimension can need is BAD_RESPONSE; a padded one within it works', async () => {
    const model = await createModel(server, owner.token, {
      name: uniqueSlug('emb'),
      type: 'openai-compatible-embeddings',
      config: { baseUrl: fake.baseUrl, model: 'sized', dimensions: 16 },
    });
    // One text of 16 dimensions: its bound is 64 KiB, 512 bytes for the vector and 512 for its fields.
    fake.script({ padding: 2 * MiB });
    const refused = (await must(server, owner.token, TEST, { id: model.id })).testModel;
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(/^BAD_RESPONSE: The model server's answer is larger than 66560 bytes/);
    fake.script({ padding: 32 * 1024 });
    expect((await must(server, owner.token, TEST, { id: model.id })).testModel).toEqual({ ok: true, error: null });
  });
});

describe('a chat answer', () => {
  let reference: string;
  beforeAll(async () => {
    const setup = await endpointOver(server, owner.token, DOCS, {
      model: { name: uniqueSlug('chat'), type: 'openai-compatible', config: { baseUrl: fake.baseUrl, model: 'sized' } },
    });
    reference = setup.reference;
  });
  const ask = async () => {
    const body = await queryEndpoint(server, owner.token, reference, 'sluice gates', undefined, 'answer');
    return body.errors ? { error: body.errors[0].extensions.reason as string, message: body.errors[0].message as string } : { answer: body.data.queryEndpoint.answer as string };
  };

  it('in one JSON body over 2 MiB is BAD_RESPONSE; a padded one within it is answered', async () => {
    fake.script({ stream: false, deltas: ['Fill the chamber [1].'], padding: 3 * MiB });
    expect(await ask()).toEqual({ error: 'BAD_RESPONSE', message: `The model server's answer is larger than ${2 * MiB} bytes` });
    fake.script({ stream: false, deltas: ['Fill the chamber [1].'], padding: 64 * 1024 });
    expect(await ask()).toEqual({ answer: 'Fill the chamber [1].' });
  });

  it('streamed with one event line over 256 KiB is BAD_RESPONSE; a long piece within it is answered', async () => {
    fake.script({ deltas: [' [1]'], longPiece: 2 * MiB });
    const refused = await ask();
    expect(refused).toEqual({ error: 'BAD_RESPONSE', message: `A line of the model server's answer is larger than ${256 * 1024} bytes` });
    fake.script({ deltas: [' [1]'], longPiece: 1000 });
    expect(await ask()).toEqual({ answer: `${'a'.repeat(1000)} [1]` });
  });
});
