/**
 * Uploads in flight are bounded, all callers together and per client address (attacker review
 * stop45, F11): a multipart request whose declared length does not fit is refused before a byte
 * of it is read, and its bytes are given back when a held upload ends, or is cut for stalling.
 * Uploads are held open by sending their headers and part of their body over a raw connection;
 * the server's own gauge (/metrics) says when it counts them, so nothing here waits on time. An
 * upload whose client hangs up after sending all of it is still taken in, and its share comes
 * back only once the server is done with it.
 */
import { request, type ClientRequest } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDataset, ingestFiles, settled, tenantWithOwner } from '../support/ingestion.js';
import { untilLockWaiters } from '../support/locks.js';
import { scrape, value } from '../support/metrics.js';
import { pollUntil } from '../support/poll.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freshIp, fromIp } from './support.js';

const MiB = 1024 * 1024;

let server: TestServer;
const held: ClientRequest[] = [];
beforeAll(async () => {
  server = await startTestServer({
    env: {
      SLUICE_TRUST_PROXY: '1',
      // Largest upload 1 MiB + 1 MiB for the form: 2 MiB per address (half of 4 MiB, and one largest upload).
      SLUICE_INGEST_MAX_REQUEST_BYTES: String(MiB),
      SLUICE_UPLOAD_BYTES_IN_FLIGHT: String(4 * MiB),
      // Held uploads below send nothing more: they must not count as stalled during the test.
      SLUICE_UPLOAD_STALL_MS: '600000',
    },
  });
});
afterAll(async () => {
  for (const upload of held) upload.destroy();
  await server?.close();
});

/** A multipart upload declaring `bytes`, from `ip`, of which only the first part is sent: it stays in flight until destroyed (or cut as stalled). */
function holdUpload(ip: string, bytes: number, target: TestServer = server): ClientRequest {
  const upload = request(target.url, {
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=held', 'content-length': String(bytes), 'apollo-require-preflight': 'true', ...fromIp(ip) },
  });
  upload.on('error', () => {});
  upload.write('--held\r\nContent-Disposition: form-data; name="operations"\r\n\r\n');
  held.push(upload);
  return upload;
}

const inFlight = async (target: TestServer = server) => value(await scrape(target), 'sluice_upload_bytes_in_flight');
const untilInFlight = (bytes: number, target: TestServer = server) =>
  pollUntil(() => inFlight(target), (n) => n === bytes, { timeoutMs: 20_000, failure: (n) => `${n} upload bytes in flight, not ${bytes}` });

it('refuses uploads past an address’s share (429) or the whole budget (503), before reading them, and admits them once held ones end', async () => {
  const owner = await tenantWithOwner(server);
  const dataset = await createDataset(server, owner.token);
  const file = { name: 'notes.txt', type: 'text/plain', content: 'Lamp oil and wicks. '.repeat(Math.ceil((0.6 * MiB) / 20)) };
  const upload = (ip: string) => ingestFiles(server, owner.token, dataset.id, [file], undefined, fromIp(ip));

  const [first, second, third] = [freshIp(), freshIp(), freshIp()];
  const firstHeld = holdUpload(first, 1.5 * MiB);
  await untilInFlight(1.5 * MiB);
  // 1.5 MiB held + 0.6 MiB more from the same address passes its 2 MiB share.
  const refused = await upload(first);
  expect(refused.status).toBe(429);
  expect(refused.body.errors[0]).toEqual({
    message: expect.stringMatching(/^Too many uploads from your address at once: 1572864 bytes are still being received or processed/),
    extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 5 },
  });
  // Another address: its own share, but the whole budget (4 MiB) is what is left to share.
  holdUpload(second, 2 * MiB);
  await untilInFlight(3.5 * MiB);
  const full = await upload(third);
  expect(full.status).toBe(503);
  expect(full.body.errors[0].extensions).toEqual({ code: 'UNAVAILABLE', retryAfterSeconds: 5 });
  // Requests that are not uploads are not counted against it.
  expect((await server.graphql('query($id: ID!) { dataset(id: $id) { id } }', { token: owner.token, headers: fromIp(first), variables: { id: dataset.id } })).body).toEqual({ data: { dataset: { id: dataset.id } } });
  // Nothing of the refused uploads was taken in.
  const jobs = await server.graphql('query($id: ID!) { ingestionJobs(datasetId: $id, first: 10) { edges { node { id } } } }', { token: owner.token, variables: { id: dataset.id } });
  expect(jobs.body.data.ingestionJobs.edges).toEqual([]);

  firstHeld.destroy();
  await untilInFlight(2 * MiB);
  for (const ip of [third, first]) {
    const accepted = await upload(ip);
    expect([accepted.status, accepted.body.errors]).toEqual([200, undefined]);
    expect(accepted.body.data.ingestDocuments.stage).toEqual(expect.any(String));
  }
  expect(await inFlight()).toBe(2 * MiB);
});

it('cuts an upload whose body stops arriving, and gives its share back', async () => {
  const stalling = await startTestServer({ env: { SLUICE_TRUST_PROXY: '1', SLUICE_INGEST_MAX_REQUEST_BYTES: String(MiB), SLUICE_UPLOAD_BYTES_IN_FLIGHT: String(4 * MiB), SLUICE_UPLOAD_STALL_MS: '300' } });
  try {
    const upload = holdUpload(freshIp(), 1.5 * MiB, stalling);
    // The server closes the connection: the client sees it end without an answer.
    await new Promise<void>((resolve) => upload.once('close', () => resolve()));
    expect(upload.destroyed).toBe(true);
    await untilInFlight(0, stalling);
  } finally {
    await stalling.close();
  }
});

// Its waits (the lock, then the job) have their own limits and messages: the test's must be longer.
it('takes in an upload whose client hangs up after sending all of it, holding its share until the server is done with it', { timeout: 120_000 }, async () => {
  const owner = await tenantWithOwner(server);
  const dataset = await createDataset(server, owner.token);
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({ query: 'mutation($d: ID!, $files: [File!]) { ingestDocuments(datasetId: $d, files: $files) { id } }', variables: { d: dataset.id, files: [null] } }),
  );
  form.set('map', JSON.stringify({ 0: ['variables.files.0'] }));
  form.set('0', new Blob(['The keeper trims the lamp wick at dusk. '.repeat(2_000)], { type: 'text/plain' }), 'wicks.txt');
  const encoded = new Response(form);
  const body = Buffer.from(await encoded.arrayBuffer());
  // The tests above leave their held uploads in flight until the end.
  const before = await inFlight();
  // The server waits at its first write of the upload (the job's row) while the client leaves.
  const blocker = new pg.Client({ connectionString: server.database.ownerUrl });
  await blocker.connect();
  try {
    await blocker.query('begin');
    // SHARE: the job's insert waits; reads (the worker's, /metrics) do not.
    await blocker.query('lock table ingestion_jobs in share mode');
    const blockerPid = (await blocker.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const upload = request(server.url, {
      method: 'POST',
      headers: { 'content-type': encoded.headers.get('content-type')!, 'content-length': String(body.length), authorization: `Bearer ${owner.token}`, 'apollo-require-preflight': 'true', ...fromIp(freshIp()) },
    });
    upload.on('error', () => {});
    upload.end(body);
    await untilLockWaiters(server, { blockedBy: blockerPid, startingWith: 'insert into "ingestion_jobs"' }, 1, 'uploads');
    upload.destroy();
    await new Promise<void>((resolve) => upload.once('close', () => resolve()));
    // Gone, but the server is still working on what it was sent: its bytes are still counted.
    expect(await inFlight()).toBe(before + body.length);
  } finally {
    await blocker.query('rollback');
    await blocker.end();
  }
  await untilInFlight(before);
  // Nothing was lost: the upload became a job, and the job took the document in.
  const jobs = await server.graphql('query($id: ID!) { ingestionJobs(datasetId: $id, first: 10) { edges { node { id } } } }', { token: owner.token, variables: { id: dataset.id } });
  expect(jobs.body.data.ingestionJobs.edges).toHaveLength(1);
  const job = await settled(server, owner.token, jobs.body.data.ingestionJobs.edges[0].node.id, 20_000);
  expect(job).toMatchObject({ stage: 'COMPLETED' });
  expect(job.documents).toEqual([expect.objectContaining({ name: 'wicks.txt', status: 'DONE', outcome: 'INDEXED', error: null })]);
});
