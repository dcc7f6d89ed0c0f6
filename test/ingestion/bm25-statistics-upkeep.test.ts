/**
 * How BM25's statistics are kept (migrations/…_bm25_statistics_upkeep.ts): adding chunks whose
 * terms a dataset holds already updates those `dataset_terms` rows in place (HOT updates: no
 * index entry, nothing for vacuum to chase), as the app role under row-level security, and the
 * counts stay exact through ingestion, replacement and a rolled-back write, and a large INSERT's
 * terms are aggregated in memory (no temporary file). test/endpoints/
 * bm25.test.ts checks exactness across tenants and deletions; this file checks the layout the
 * write path's speed depends on.
 */
import { describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { createDataset, ingestInline, serverWithOwner, settled, type InlineDocument } from '../support/ingestion.js';
import { databaseIdOf } from '../support/global-ids.js';

const state = serverWithOwner();


async function ingest(datasetId: string, documents: InlineDocument[]) {
  const { server, owner } = state;
  const { body } = await ingestInline(server, owner.token, datasetId, documents);
  expect(body.errors).toBeUndefined();
  const job = await settled(server, owner.token, body.data.ingestDocuments.id);
  expect(job.stage).toBe('COMPLETED');
}

/** The dataset's stored term counts beside a recount from its chunks, where they differ. */
async function drift(datasetId: string): Promise<unknown[]> {
  return withClient(state.server.database.ownerUrl, async (client) => {
    const { rows } = await client.query(
      `with recount as (
         select t.term, count(*)::int as chunk_count
           from chunks c cross join lateral unnest(tsvector_to_array(c.search)) as t(term) where c.dataset_id = $1 group by 1),
       stored as (select term, chunk_count from dataset_terms where dataset_id = $1)
       select coalesce(r.term, s.term) as term, r.chunk_count as recounted, s.chunk_count as stored
         from recount r full join stored s on s.term = r.term
        where r.chunk_count is distinct from s.chunk_count`,
      [datasetId],
    );
    return rows;
  });
}

describe('BM25 statistics upkeep', { timeout: 120_000 }, () => {
  it('stays exact through ingestion and replacement', async () => {
    const dataset = await createDataset(state.server, state.owner.token);
    const id = databaseIdOf(dataset.id);
    await ingest(dataset.id, [
      { title: 'Weir', text: 'The weir holds the river back; the river spills over the weir in spring.' },
      { title: 'Lock', text: 'A lock lifts boats between river levels.' },
    ]);
    expect(await drift(id)).toEqual([]);
    // Same title: the first document is replaced (its chunks deleted, new ones added); a third is new.
    await ingest(dataset.id, [
      { title: 'Weir', text: 'A sluice gate on the weir lets the flood through.' },
      { title: 'Gate', text: 'The gate keeper opens the sluice at dawn.' },
    ]);
    expect(await drift(id)).toEqual([]);
    const { rows } = await withClient(state.server.database.ownerUrl, (client) =>
      client.query<{ term: string; chunk_count: number }>(
        `select term, chunk_count from dataset_terms where dataset_id = $1 and term = any($2) order by term`,
        [id, ['lock', 'river', 'sluic', 'spill']],
      ),
    );
    // 'river' is left in the lock's chunk only; 'spill' went with the replaced text.
    expect(rows).toEqual([
      { term: 'lock', chunk_count: 1 },
      { term: 'river', chunk_count: 1 },
      { term: 'sluic', chunk_count: 2 },
    ]);
  });

  it('updates the rows of terms a dataset holds in place (HOT), as the app role under row-level security', async () => {
    const dataset = await createDataset(state.server, state.owner.token);
    const id = databaseIdOf(dataset.id);
    // 1200 distinct made-up words (no stemming merges them): their rows fill many pages.
    const letters = (n: number) => Array.from({ length: 3 }, (_, place) => String.fromCharCode(97 + (Math.floor(n / 26 ** place) % 26))).join('');
    const words = Array.from({ length: 1200 }, (_, index) => `zq${letters(index)}x`);
    await ingest(dataset.id, [{ title: 'Words', text: words.join(' ') }]);
    const before = await withClient(state.server.database.ownerUrl, async (client) =>
      (await client.query<{ terms: number; total: number }>(`select count(*)::int as terms, sum(chunk_count)::int as total from dataset_terms where dataset_id = $1`, [id])).rows[0]!,
    );
    expect(before.terms).toBe(1200);

    await withClient(state.server.database.appUrl, async (client) => {
      await client.query('begin');
      try {
        await client.query(`select set_config('app.tenant_id', $1, true)`, [state.owner.tenant.id]);
        // A copy of every chunk of the document, in one statement: every term's row is updated once.
        const inserted = await client.query(
          `insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language)
           select gen_random_uuid(), tenant_id, dataset_id, document_id, ordinal + 1000, content, start_offset, end_offset, language
             from chunks where dataset_id = $1`,
          [id],
        );
        expect(inserted.rowCount).toBeGreaterThan(1);
        const { rows } = await client.query<{ updated: number; hot: number; terms: number; total: number }>(
          `select pg_stat_get_xact_tuples_updated('dataset_terms'::regclass)::int as updated,
                  pg_stat_get_xact_tuples_hot_updated('dataset_terms'::regclass)::int as hot,
                  (select count(*)::int from dataset_terms where dataset_id = $1) as terms,
                  (select sum(chunk_count)::int from dataset_terms where dataset_id = $1) as total`,
          [id],
        );
        const { updated, hot, ...counts } = rows[0]!;
        expect(counts).toEqual({ terms: 1200, total: before.total * 2 });
        expect(updated).toBe(1200);
        // With full pages (the default fillfactor) next to none of these were HOT.
        expect(hot).toBe(updated);
      } finally {
        await client.query('rollback');
      }
    });
    expect(await drift(id)).toEqual([]);
  });

  it('aggregates a large INSERT’s terms in memory: no temporary file (issue 19, ingestion cost)', async () => {
    const dataset = await createDataset(state.server, state.owner.token);
    const id = databaseIdOf(dataset.id);
    await ingest(dataset.id, [{ title: 'Seed', text: 'A seed document for the chunks below.' }]);
    await withClient(state.server.database.ownerUrl, async (client) => {
      const temporaryFiles: string[] = [];
      client.on('notice', (notice) => {
        if (/temporary file/.test(notice.message ?? '')) temporaryFiles.push(notice.message!);
      });
      await client.query('begin');
      try {
        // Every temporary file this session writes is reported to it (superuser settings: the owner connection).
        await client.query(`set local log_temp_files = 0`);
        await client.query(`set local client_min_messages = log`);
        // 1 000 chunks of 100 made-up words, one statement: 100 000 (chunk, term) rows for the
        // trigger to aggregate. Sorted with their chunks' tsvectors, as the trigger once did, they
        // made a sort of over 100 MB on disk; the new rows themselves (2 MB) stay in memory.
        const inserted = await client.query(
          `insert into chunks (id, tenant_id, dataset_id, document_id, ordinal, content, start_offset, end_offset, language)
           select gen_random_uuid(), c.tenant_id, c.dataset_id, c.document_id, 100 + g, w.content, 0, length(w.content), c.language
             from (select * from chunks where dataset_id = $1 limit 1) c
            cross join generate_series(1, 1000) as g
            cross join lateral (select string_agg('zq' || substr(md5(g || '-' || n), 1, 6), ' ') as content from generate_series(1, 100) as n) w`,
          [id],
        );
        expect(inserted.rowCount).toBe(1000);
        // Counted exactly, inside the transaction (the drift check below runs after the rollback).
        const { rows } = await client.query<{ stored: number; recounted: number }>(
          `select (select sum(chunk_count)::int from dataset_terms where dataset_id = $1) as stored,
                  (select sum(length(search))::int from chunks where dataset_id = $1) as recounted`,
          [id],
        );
        expect(rows[0]!.recounted).toBeGreaterThan(90_000);
        expect(rows[0]!.stored).toBe(rows[0]!.recounted);
        expect(temporaryFiles).toEqual([]);
      } finally {
        await client.query('rollback');
      }
    });
    expect(await drift(id)).toEqual([]);
  });
});
