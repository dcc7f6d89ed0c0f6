/**
 * An input that can only add a document is parsed once, in CHUNKING (JobRun.parse): text,
 * Markdown, HTML and CSV files give one document named after the input, and when the dataset
 * holds no document of that name nothing of it can be unchanged, so PARSING leaves it to
 * CHUNKING (issue 19: that parse ran with PostgreSQL idle). What PARSING is for still holds:
 * an input named after a stored document is checked there (UNCHANGED), and an input whose keys
 * its content decides (JSONL) is parsed there. Where an input is settled shows in its outcome's
 * sequence: PARSING settles a group before CHUNKING begins.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseIdOf } from '../support/global-ids.js';
import { createDataset, ingestFiles, ingestInline, settled, tenantWithOwner } from '../support/ingestion.js';
import { asOwner } from '../support/locks.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const STORED = 'The lock keeper opens the upper gate at dawn.';

interface Outcome {
  index: number;
  status: string;
  outcome: string | null;
  reason: string | null;
  error: string | null;
  documents: number;
  sequence: number;
}

async function outcomesOf(token: string, jobId: string): Promise<Outcome[]> {
  const job = await settled(server, token, jobId);
  expect(job.stage).toBe('COMPLETED');
  const { body } = await server.graphql(`query($id: ID!) { ingestionJob(id: $id) { documents { index status outcome reason error documents sequence } } }`, {
    token,
    variables: { id: jobId },
  });
  return [...(body.data.ingestionJob.documents as Outcome[])].sort((a, b) => a.index - b.index);
}

async function datasetHoldingKept() {
  const { token } = await tenantWithOwner(server);
  const dataset = await createDataset(server, token);
  const first = await ingestFiles(server, token, dataset.id, [{ name: 'kept.md', content: STORED }]);
  expect((await settled(server, token, first.body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
  return { token, dataset };
}

describe('inputs new to the dataset', { timeout: 120_000 }, () => {
  it('are parsed in CHUNKING: a new input that fails is settled after a stored one PARSING found unchanged', async () => {
    const { token, dataset } = await datasetHoldingKept();
    const job = await ingestFiles(server, token, dataset.id, [
      // Nothing but markup: "no text in it", a parse failure of a name the dataset does not hold.
      { name: 'blank.html', content: '<html><body><p> </p></body></html>' },
      { name: 'kept.md', content: STORED },
      { name: 'fresh.md', content: '# Sluices\n\nThe lower gate holds the tide back.' },
    ]);
    const [blank, kept, fresh] = await outcomesOf(token, job.body.data.ingestDocuments.id);
    expect(blank).toMatchObject({ status: 'FAILED', reason: 'PARSE_ERROR', outcome: null });
    expect(blank!.error).toContain('no text');
    expect(kept).toMatchObject({ status: 'DONE', outcome: 'UNCHANGED' });
    expect(fresh).toMatchObject({ status: 'DONE', outcome: 'INDEXED', documents: 1 });
    // PARSING settled the unchanged input; the failure came in CHUNKING, after it.
    expect(blank!.sequence).toBeGreaterThan(kept!.sequence);
  });

  it('whose keys their content decides (JSONL) are still parsed in PARSING', async () => {
    const { token, dataset } = await datasetHoldingKept();
    const job = await ingestFiles(server, token, dataset.id, [
      { name: 'records.jsonl', content: '{"text": "The weir spills over."}\nnot json\n' },
      { name: 'kept.md', content: STORED },
    ]);
    const [records, kept] = await outcomesOf(token, job.body.data.ingestDocuments.id);
    expect(records).toMatchObject({ status: 'FAILED', reason: 'PARSE_ERROR' });
    expect(records!.error).toContain('line 2');
    expect(kept).toMatchObject({ status: 'DONE', outcome: 'UNCHANGED' });
    expect(records!.sequence).toBeLessThan(kept!.sequence);
  });

  it('are written in input order when two share a name, the later one winning', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const job = await ingestInline(server, token, dataset.id, [
      { title: 'twice', text: 'The first text of the gate.' },
      { title: 'twice', text: 'The second text of the gate.' },
    ]);
    const outcomes = await outcomesOf(token, job.body.data.ingestDocuments.id);
    expect(outcomes.map((outcome) => outcome.outcome)).toEqual(['INDEXED', 'REPLACED']);
    const stored = await asOwner(server, async (client) =>
      (
        await client.query(
          `select d.source_key, string_agg(c.content, ' ' order by c.ordinal) as text from documents d join chunks c on c.document_id = d.id where d.dataset_id = $1 group by d.source_key`,
          [databaseIdOf(dataset.id)],
        )
      ).rows,
    );
    expect(stored).toEqual([{ source_key: 'twice', text: 'The second text of the gate.' }]);
  });
});
