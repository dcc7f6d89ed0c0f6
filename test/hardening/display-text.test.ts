/**
 * Names, titles and descriptions are stored clean and bounded (src/domains/display-text.ts):
 * ANSI escapes, control characters and bidi overrides used to be kept, and 5 000 characters
 * too, and reached terminals through the CLI. Every such argument carries the marking that
 * cleans it (src/schema/display-text.ts): the schema walk below fails on one that does not.
 * The CLI removes the same characters from what it prints, as a second net.
 */
import { getNamedType } from 'graphql';
import { beforeEach, describe, expect, it } from 'vitest';
import { table } from '../../src/cli/table.js';
import { terminalJson, terminalText } from '../../src/cli/terminal-text.js';
import { NAME_MAX, TITLE_MAX } from '../../src/domains/display-text.js';
import { schema } from '../../src/schema/index.js';
import { createApiKey, signUp } from '../support/identity.js';
import { createDataset, ingestFiles, ingestInline, serverWithOwner, settled, type Tenant } from '../support/ingestion.js';
import { schemaInputs } from '../support/schema-inputs.js';
import type { TestServer } from '../support/server.js';

/** What an attacker puts in a name: colour, a bell, a right-to-left override, a line break, a tab. */
const HOSTILE = '  \u001b[31mRed\u001b[0m \u0007Lamp\u202Egpj.exe\u2066x\u2069\r\nroom\tkeys\u009b2J  ';
const CLEAN = 'Red Lampgpj.exex room keys';
const LONG = 'x'.repeat(5000);

describe('the schema', () => {
  it('marks every String argument and input field named like a name, title or description for cleaning', () => {
    const inputs = schemaInputs(schema);
    const checked = inputs.length;
    const unmarked = inputs
      .filter(({ input }) => getNamedType(input.type).name === 'String' && /(^|[a-z])(name|title|description)$/i.test(input.name) && !input.extensions?.displayText)
      .map(({ where, input }) => `${where}.${input.name}`);
    expect(checked).toBeGreaterThan(50);
    expect(unmarked).toEqual([]);
  });
});

describe('names and titles through the API', () => {
  const context = serverWithOwner();
  let server: TestServer;
  let acme: Tenant;
  beforeEach(() => {
    ({ server, owner: acme } = context);
  });

  const refusal = (body: any) => ({ code: body.errors?.[0]?.extensions?.code, path: body.errors?.[0]?.extensions?.issues?.[0]?.path, message: body.errors?.[0]?.message });

  it('createDataset and updateDataset store a clean name and description, and refuse 5 000 characters naming the field and the maximum', async () => {
    const created = await server.graphql('mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id name description } }', {
      token: acme.token,
      variables: { input: { name: HOSTILE, slug: 'hostile-names', description: `first\u001b[2K line\r\nsecond\u202E line\u0007` } },
    });
    expect(created.body.data.createDataset).toMatchObject({ name: CLEAN, description: 'first line\nsecond line' });
    const { id } = created.body.data.createDataset;
    const update = (input: Record<string, unknown>) =>
      server.graphql('mutation($id: ID!, $input: UpdateDatasetInput!) { updateDataset(id: $id, input: $input) { name } }', { token: acme.token, variables: { id, input } });
    expect((await update({ name: `\u202E${HOSTILE}` })).body.data.updateDataset.name).toBe(CLEAN);
    expect(refusal((await update({ name: LONG })).body)).toEqual({ code: 'BAD_USER_INPUT', path: ['input', 'name'], message: `input.name: must be 1 to ${NAME_MAX} characters (got 5000)` });
    expect(refusal((await update({ name: '\u001b[31m\u202E \u0007' })).body)).toMatchObject({ code: 'BAD_USER_INPUT', path: ['input', 'name'] });
    const stored = await server.graphql('query($id: ID!) { node(id: $id) { ... on Dataset { name } } }', { token: acme.token, variables: { id } });
    expect(stored.body.data.node.name).toBe(CLEAN);
  });

  it('API key, tenant and sign-up names are cleaned the same way', async () => {
    const key = await createApiKey(server, acme.token, { name: HOSTILE, scopes: ['READ'] });
    expect(key.body.data?.createApiKey.apiKey.name, JSON.stringify(key.body.errors)).toBe(CLEAN);
    expect(refusal((await createApiKey(server, acme.token, { name: LONG, scopes: ['READ'] })).body)).toMatchObject({ code: 'BAD_USER_INPUT', path: ['input', 'name'] });
    const renamed = await server.graphql('mutation($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { name } }', {
      token: acme.token,
      variables: { input: { name: HOSTILE } },
    });
    expect(renamed.body.data.updateTenantSettings.name).toBe(CLEAN);
    const account = await signUp(server, { tenantName: HOSTILE });
    const tenant = await server.graphql('{ viewer { tenant { name } } }', { token: account.accessToken });
    expect(tenant.body.data.viewer.tenant.name).toBe(CLEAN);
  });

  it('inline titles and uploaded file names become clean document titles; 5 000 characters are refused and nothing is queued', async () => {
    const dataset = await createDataset(server, acme.token);
    const inline = await ingestInline(server, acme.token, dataset.id, [{ title: HOSTILE, text: 'The lock keeper winds the lamp.' }]);
    const files = await ingestFiles(server, acme.token, dataset.id, [{ name: `\u001b]0;owned\u0007up\u202Eload.txt`, content: 'The gates open at dawn.' }]);
    await settled(server, acme.token, inline.body.data.ingestDocuments.id);
    await settled(server, acme.token, files.body.data.ingestDocuments.id);
    const documents = await server.graphql('query($id: ID!) { node(id: $id) { ... on Dataset { documents { edges { node { title sourceKey } } } } } }', {
      token: acme.token,
      variables: { id: dataset.id },
    });
    const titles = documents.body.data.node.documents.edges.map((edge: any) => edge.node.title).sort();
    expect(titles).toEqual([CLEAN, 'upload.txt']);

    const longTitle = await ingestInline(server, acme.token, dataset.id, [{ title: LONG, text: 'text' }]);
    expect(refusal(longTitle.body)).toEqual({ code: 'BAD_USER_INPUT', path: ['documents', 0, 'title'], message: `documents.0.title: must be 1 to ${TITLE_MAX} characters (got 5000)` });
    const longName = await ingestFiles(server, acme.token, dataset.id, [{ name: `${LONG}.txt`, content: 'text' }]);
    expect(longName.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'INVALID_NAME', problems: [{ index: 0, reason: 'INVALID_NAME' }] });
    const jobs = await server.graphql('query($id: ID!) { ingestionJobs(datasetId: $id) { edges { node { id } } } }', { token: acme.token, variables: { id: dataset.id } });
    expect(jobs.body.data.ingestionJobs.edges).toHaveLength(2);
  });

  it('titles read from inside a file are cleaned and cut to the maximum (there is no caller to refuse)', async () => {
    const dataset = await createDataset(server, acme.token);
    const records = [{ title: HOSTILE, text: 'First record.' }, { title: `\u202E${'y'.repeat(5000)}`, text: 'Second record.' }];
    const job = await ingestFiles(server, acme.token, dataset.id, [{ name: 'records.jsonl', content: records.map((record) => JSON.stringify(record)).join('\n') }]);
    expect((await settled(server, acme.token, job.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
    const documents = await server.graphql('query($id: ID!) { node(id: $id) { ... on Dataset { documents { edges { node { title } } } } } }', {
      token: acme.token,
      variables: { id: dataset.id },
    });
    const titles: string[] = documents.body.data.node.documents.edges.map((edge: any) => edge.node.title);
    expect(titles.sort()).toEqual([CLEAN, `${'y'.repeat(TITLE_MAX - 1)}…`]);
  });
});

describe('the CLI', () => {
  it('prints server text without escape sequences, control characters or bidi overrides', () => {
    expect(terminalText(`a\u001b[31mred\u001b[0m\u0007 \u202Eb\r\u009b2Jc\nnext\tline`)).toBe('ared bc\nnext\tline');
    expect(table(['NAME'], [[`x\u001b]0;title\u0007y\nz`]])).toBe('NAME\nxy z');
    const json = terminalJson({ name: `a\u202Eb\u009bc\u001bd` });
    expect(json).toBe('{"name":"a\\u202eb\\u009bc\\u001bd"}');
    expect(JSON.parse(json)).toEqual({ name: `a\u202Eb\u009bc\u001bd` });
  });
});
