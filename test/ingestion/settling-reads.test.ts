/**
 * What settling a group reads (issue 19: ingestion cost). A group's inputs are read with their
 * content once, to be parsed or chunked; the settling transaction needs only their status (and
 * ids), so it must not fetch the content again: for a 20 MB job that was 20 MB more read from
 * `ingestion_items` and sent over the connection per stage. Checked on the SQL the worker sends
 * (knex 'query' events on the server's ORM, which its in-process worker shares), and on the rows:
 * an indexed input's content is still cleared, a failed one's still kept for a retry.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createDataset, ingestFiles, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

async function statementsOf(run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const knex = server.orm.em.getConnection().getKnex();
  const listener = (query: { sql: string }) => seen.push(query.sql.replace(/\s+/g, ' '));
  knex.on('query', listener);
  try {
    await run();
  } finally {
    knex.off('query', listener);
  }
  return seen;
}

it('reads a group’s inputs with their content once per stage, and settles them without it', { timeout: 60_000 }, async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const files = [
    { name: 'a.md', type: 'text/markdown', content: '# Locks\n\nThe keeper winds the paddles at dusk.' },
    { name: 'b.md', type: 'text/markdown', content: '# Weirs\n\nThe weir holds the river back.' },
    { name: 'broken.json', type: 'application/json', content: '{ "text": ' },
  ];
  let jobId = '';
  const statements = await statementsOf(async () => {
    const { body } = await ingestFiles(server, token, dataset.id, files);
    expect(body.errors).toBeUndefined();
    jobId = body.data.ingestDocuments.id;
    const job = await settled(server, token, jobId);
    expect(job.stage).toBe('COMPLETED');
    expect(job.progress).toMatchObject({ documentsDone: 3, documentsFailed: 1 });
  });
  const itemReads = statements.filter((sql) => /^select\b/i.test(sql) && sql.includes('from "ingestion_items"'));
  // Every column (`"i0".*`) or `content` by name.
  const readsContent = (sql: string) => /\.\*|"content"/.test(sql);
  const withContent = itemReads.filter(readsContent);
  // The settling read: the group's items by id, still in the stage's status (PENDING, then PARSED).
  const settling = itemReads.filter((sql) => /"status" = /.test(sql) && /"id" in /.test(sql));
  expect(settling).toHaveLength(2);
  expect(settling.filter(readsContent)).toEqual([]);
  // One group per stage here: its inputs read with their content once in PARSING, once in CHUNKING.
  expect(withContent).toHaveLength(2);

  const rows = await withClient(server.database.ownerUrl, async (client) =>
    (await client.query('select name, status, content is null as cleared from ingestion_items where job_id = $1 order by ordinal', [uuidOf(jobId)])).rows,
  );
  expect(rows).toEqual([
    { name: 'a.md', status: 'DONE', cleared: true },
    { name: 'b.md', status: 'DONE', cleared: true },
    { name: 'broken.json', status: 'FAILED', cleared: false },
  ]);
});
