/**
 * What settling a group reads (issue 19: ingestion cost). A group's inputs are read with their
 * content once per stage that parses or chunks them; the settling transaction needs only their
 * status (and ids), so it must not fetch the content again: for a 20 MB job that was 20 MB more
 * read from `ingestion_items` and sent over the connection per stage. An input PARSING leaves
 * to CHUNKING (one new document named after it: JobRun.unparsedKey) is not read there at all.
 * Checked on the SQL the worker sends (knex 'query' events on the server's ORM, which its
 * in-process worker shares), and on the rows: an indexed input's content is still cleared, a
 * failed one's still kept for a retry.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createDataset, ingestFiles, settled, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});


interface Statement {
  sql: string;
  bindings: unknown[];
}

async function statementsOf(run: () => Promise<void>): Promise<Statement[]> {
  const seen: Statement[] = [];
  const knex = server.orm.em.getConnection().getKnex();
  const listener = (query: { sql: string; bindings?: unknown[] }) => seen.push({ sql: query.sql.replace(/\s+/g, ' '), bindings: query.bindings ?? [] });
  knex.on('query', listener);
  try {
    await run();
  } finally {
    knex.off('query', listener);
  }
  return seen;
}

/** Selects from `ingestion_items`, by the ORM or as bound SQL. */
const itemReadsOf = (statements: Statement[]) => statements.filter(({ sql }) => /^select\b/i.test(sql) && /from "?ingestion_items"?/.test(sql));
/** Every column (`"i0".*`) or `content` by name, in the select list. */
const readsContent = ({ sql }: Statement) => /\.\*|\bcontent\b/.test(sql.slice(0, sql.search(/ from /i)));

/** The names of the inputs each read with content asked for (their ids are its one array parameter). */
async function namesRead(statements: Statement[]): Promise<string[][]> {
  const reads = itemReadsOf(statements).filter(readsContent);
  return withClient(server.database.ownerUrl, async (client) => {
    const names: string[][] = [];
    for (const { sql, bindings } of reads) {
      expect(sql).toMatch(/where id = any\(\$1::uuid\[\]\)/);
      const { rows } = await client.query<{ name: string }>('select name from ingestion_items where id = any($1::uuid[]) order by ordinal', [bindings[0]]);
      names.push(rows.map((row) => row.name));
    }
    return names;
  });
}

it('reads an input’s content once per stage that parses or chunks it, and settles without it', { timeout: 60_000 }, async () => {
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
  const itemReads = itemReadsOf(statements);
  // The settling read: the group's items by id, still in the stage's status (PENDING, then PARSED).
  const settling = itemReads.filter(({ sql }) => /"status" = /.test(sql) && /"id" in /.test(sql));
  expect(settling).toHaveLength(2);
  expect(settling.filter(readsContent)).toEqual([]);
  // One group per stage here. PARSING reads the JSON input (its keys are in its content) and
  // leaves the two new Markdown files unread; CHUNKING reads those two (the JSON one failed).
  expect(await namesRead(statements)).toEqual([['broken.json'], ['a.md', 'b.md']]);

  const rows = await withClient(server.database.ownerUrl, async (client) =>
    (await client.query('select name, status, content is null as cleared from ingestion_items where job_id = $1 order by ordinal', [databaseIdOf(jobId)])).rows,
  );
  expect(rows).toEqual([
    { name: 'a.md', status: 'DONE', cleared: true },
    { name: 'b.md', status: 'DONE', cleared: true },
    { name: 'broken.json', status: 'FAILED', cleared: false },
  ]);
});

it('reads in PARSING the content of an input named after a stored document, which may be unchanged', { timeout: 60_000 }, async () => {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const kept = { name: 'kept.md', type: 'text/markdown', content: '# Locks\n\nThe keeper winds the paddles at dusk.' };
  const first = await ingestFiles(server, token, dataset.id, [kept]);
  expect((await settled(server, token, first.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  const statements = await statementsOf(async () => {
    const { body } = await ingestFiles(server, token, dataset.id, [kept, { name: 'fresh.md', type: 'text/markdown', content: '# Weirs\n\nThe weir holds the river back.' }]);
    const job = await settled(server, token, body.data.ingestDocuments.id);
    expect(job.stage).toBe('COMPLETED');
    expect(job.progress).toMatchObject({ documentsDone: 2, documentsFailed: 0 });
  });
  // kept.md is checked (and found UNCHANGED) in PARSING; fresh.md is read once, in CHUNKING.
  expect(await namesRead(statements)).toEqual([['kept.md'], ['fresh.md']]);
});
