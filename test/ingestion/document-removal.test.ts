/**
 * Removing documents: `deleteDocument` (one document, by its id, only the caller's tenant's)
 * and document retention (documents older than their dataset's or tenant's period, removed on
 * schedule with an injected clock, each removal audited). Either way the chunks go with the
 * document, BM25's statistics and the dataset's counters stay exact, and other datasets and
 * tenants keep theirs.
 */
import { describe, expect, it } from 'vitest';
import { applyDocumentRetention } from '../../src/domains/datasets/document-retention.js';
import { auditEventsOf } from '../support/audit.js';
import { codeOf } from '../support/identity.js';
import { createDataset, ingestInline, serverWithOwner, settled, tenantWithOwner, type InlineDocument } from '../support/ingestion.js';
import { asOwner } from '../support/locks.js';
import { secretsOf } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

const state = serverWithOwner();
const HOUR = 3_600_000;

async function ingest(token: string, datasetId: string, documents: InlineDocument[]) {
  const { body } = await ingestInline(state.server, token, datasetId, documents);
  expect(body.errors).toBeUndefined();
  expect((await settled(state.server, token, body.data.ingestDocuments.id)).stage).toBe('COMPLETED');
}

/** What the dataset says it holds beside a recount from its rows, and the term counts that drifted. */
async function bookkeeping(datasetId: string) {
  return asOwner(state.server, async (client) => {
    const { rows: [counts] } = await client.query(
      `select s.document_count::int as documents, s.chunk_count::int as chunks, s.search_chunk_count::int as "searchChunks",
              (select count(*)::int from documents d where d.dataset_id = s.id) as "documentsCounted",
              (select count(*)::int from chunks c where c.dataset_id = s.id) as "chunksCounted"
         from datasets s where s.id = $1`,
      [datasetId],
    );
    const { rows: drift } = await client.query(
      `with recount as (
         select t.term, count(*)::int as n from chunks c cross join lateral unnest(tsvector_to_array(c.search)) as t(term) where c.dataset_id = $1 group by 1),
       stored as (select term, chunk_count as n from dataset_terms where dataset_id = $1 and chunk_count > 0)
       select coalesce(r.term, s.term) as term from recount r full join stored s on s.term = r.term where r.n is distinct from s.n`,
      [datasetId],
    );
    return { ...counts, drift: drift.map((row) => row.term) };
  });
}

async function documentsOf(token: string, datasetId: string): Promise<{ id: string; title: string }[]> {
  const { body } = await state.server.graphql(`query($id: ID!) { node(id: $id) { ... on Dataset { documents(first: 100) { edges { node { id title } } } } } }`, {
    token,
    variables: { id: datasetId },
  });
  return body.data.node.documents.edges.map((edge: { node: { id: string; title: string } }) => edge.node);
}

const DELETE = 'mutation($id: ID!) { deleteDocument(id: $id) { id sourceKey chunkCount dataset { id documentCount } } }';

describe('removing documents', { timeout: 120_000 }, () => {
  it('deleteDocument removes one document with its chunks and statistics; a foreign id is NOT_FOUND and removes nothing', async () => {
    const { server, owner: me } = state;
    const dataset = await createDataset(server, me.token);
    await ingest(me.token, dataset.id, [
      { title: 'Weir', text: 'The weir holds the river back; the river spills over the weir in spring.' },
      { title: 'Lock', text: 'A lock lifts boats between river levels. '.repeat(60) },
      { title: 'Gate', text: 'The gate keeper opens the sluice at dawn.' },
    ]);
    const lock = (await documentsOf(me.token, dataset.id)).find((document) => document.title === 'Lock')!;

    // Another tenant cannot delete it, nor learn that it exists.
    const stranger = await tenantWithOwner(server);
    const refused = await server.graphql(DELETE, { token: stranger.token, variables: { id: lock.id } });
    expect(codeOf(refused.body)).toBe('NOT_FOUND');
    expect((await documentsOf(me.token, dataset.id)).map((document) => document.title).sort()).toEqual(['Gate', 'Lock', 'Weir']);

    const { body } = await server.graphql(DELETE, { token: me.token, variables: { id: lock.id } });
    expect(body.errors).toBeUndefined();
    expect(body.data.deleteDocument).toMatchObject({ id: lock.id, sourceKey: 'Lock', dataset: { id: dataset.id, documentCount: 2 } });
    expect(body.data.deleteDocument.chunkCount).toBeGreaterThan(1);
    expect((await documentsOf(me.token, dataset.id)).map((document) => document.title).sort()).toEqual(['Gate', 'Weir']);
    const after = await bookkeeping(databaseIdOf(dataset.id));
    expect(after).toEqual({ documents: 2, chunks: after.chunksCounted, searchChunks: after.chunksCounted, documentsCounted: 2, chunksCounted: 2, drift: [] });
    // "boats" was only in the deleted document: no dataset term counts it any more.
    const boats = await asOwner(state.server, async (client) => (await client.query(`select chunk_count from dataset_terms where dataset_id = $1 and term = 'boat'`, [databaseIdOf(dataset.id)])).rows);
    expect(boats.every((row) => row.chunk_count === 0)).toBe(true);

    // Again: it is gone.
    expect(codeOf((await server.graphql(DELETE, { token: me.token, variables: { id: lock.id } })).body)).toBe('NOT_FOUND');
    const mentions = (event: Record<string, any>) => JSON.stringify(event.details).includes('deleteDocument');
    // Mine: the deletion and the second attempt (the stranger's refusal is in the stranger's trail).
    const mutations = await auditEventsOf(server, me.token, 2, { action: 'graphql.mutation' }, 10_000, (event) => mentions(event) && event.outcome === 'NOT_FOUND');
    expect(mutations.filter(mentions).map((event) => event.outcome).sort()).toEqual(['NOT_FOUND', 'ok']);
  });

  it('retention removes documents past their dataset’s or tenant’s period, audited, and nothing else', async () => {
    const { server } = state;
    const tenant = await tenantWithOwner(server);
    const settings = await server.graphql('mutation { updateTenantSettings(input: { documentRetentionHours: 48 }) { documentRetentionHours } }', { token: tenant.token });
    expect(settings.body.data.updateTenantSettings.documentRetentionHours).toBe(48);
    const refusedHours = await server.graphql('mutation($id: ID!) { updateDataset(id: $id, input: { documentRetentionHours: 0 }) { id } }', {
      token: tenant.token,
      variables: { id: (await createDataset(server, tenant.token)).id },
    });
    expect(codeOf(refusedHours.body)).toBe('BAD_USER_INPUT');
    const daily = await createDataset(server, tenant.token, { documentRetentionHours: 24 });
    const inherits = await createDataset(server, tenant.token);
    const elsewhere = await createDataset(server, state.owner.token); // another tenant, no period
    for (const [token, dataset] of [[tenant.token, daily], [tenant.token, inherits], [state.owner.token, elsewhere]] as const) {
      await ingest(token, dataset.id, [
        { title: 'Tide', text: 'The tide turns the mill wheel twice a day.' },
        { title: 'Flood', text: 'Flood water rises over the meadow in March.' },
      ]);
    }
    const secrets = secretsOf(server);
    const now = Date.now();

    // An hour from now nothing has expired.
    expect(await asOwner(state.server, (client) => applyDocumentRetention(client, secrets, new Date(now + HOUR)))).toEqual({ documentsDeleted: 0, chunksDeleted: 0 });
    // A day and an hour: the 24-hour dataset's documents go, the others stay.
    const first = await asOwner(state.server, (client) => applyDocumentRetention(client, secrets, new Date(now + 25 * HOUR)));
    expect(first).toEqual({ documentsDeleted: 2, chunksDeleted: 2 });
    expect(await documentsOf(tenant.token, daily.id)).toEqual([]);
    expect(await documentsOf(tenant.token, inherits.id)).toHaveLength(2);
    expect(await bookkeeping(databaseIdOf(daily.id))).toEqual({ documents: 0, chunks: 0, searchChunks: 0, documentsCounted: 0, chunksCounted: 0, drift: [] });
    // Past the tenant's 48 hours: the dataset that inherits it follows; the other tenant keeps everything.
    expect(await asOwner(state.server, (client) => applyDocumentRetention(client, secrets, new Date(now + 49 * HOUR)))).toEqual({ documentsDeleted: 2, chunksDeleted: 2 });
    expect(await documentsOf(tenant.token, inherits.id)).toEqual([]);
    expect(await documentsOf(state.owner.token, elsewhere.id)).toHaveLength(2);

    // Each removal is in the tenant's audit trail, without the file's name, and the chain verifies.
    const events = await auditEventsOf(server, tenant.token, 4, { action: 'document.expired' });
    expect(events).toHaveLength(4);
    expect(new Set(events.map((event) => event.details.datasetId))).toEqual(new Set([databaseIdOf(daily.id), databaseIdOf(inherits.id)]));
    expect(events.map((event) => [event.actorKind, event.actorId, event.details.retentionHours]).sort()).toEqual([
      ['system', 'document-retention', 24],
      ['system', 'document-retention', 24],
      ['system', 'document-retention', 48],
      ['system', 'document-retention', 48],
    ]);
    expect(JSON.stringify(events)).not.toMatch(/Tide|Flood/);
    const verified = await server.graphql('query { verifyAuditChain { ok } }', { token: tenant.token });
    expect(verified.body.data.verifyAuditChain.ok).toBe(true);

    // Clearing the tenant's period keeps documents again.
    const cleared = await server.graphql('mutation { updateTenantSettings(input: { documentRetentionHours: null }) { documentRetentionHours } }', { token: tenant.token });
    expect(cleared.body.data.updateTenantSettings.documentRetentionHours).toBeNull();
  });
});
