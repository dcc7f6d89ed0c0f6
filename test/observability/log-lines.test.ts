/**
 * What the logs say (issue 22, item 4): one line per request with its names and no secret;
 * short job worker lines, and an ingestion job that FAILED logged as failed, never as
 * "Completed … with success"; readable lines when asked for (a terminal's default).
 */
import { expect, it, vi } from 'vitest';
import { createDataset, ingestInline, serverWithOwner, settled } from '../support/ingestion.js';
import { runNode } from '../support/process.js';

const state = serverWithOwner();

it('an ingestion job whose every input fails is logged FAILED, with short queue lines and no job rows', { timeout: 120_000 }, async () => {
  const { server, owner } = state;
  const dataset = await createDataset(server, owner.token);
  const { body } = await ingestInline(server, owner.token, dataset.id, [{ title: 'broken.jsonl', text: 'not json at all', mimeType: 'application/jsonl' }]);
  const job = await settled(server, owner.token, body.data.ingestDocuments.id);
  expect(job.stage).toBe('FAILED');

  const outcome = await vi.waitFor(() => {
    const line = server.logs.find((l) => l.tenantId === owner.tenant.id && typeof l.msg === 'string' && l.msg.startsWith('ingestion job '));
    if (!line) throw new Error('no outcome line yet');
    return line;
  });
  expect(outcome).toMatchObject({ level: 40, component: 'worker', stage: 'FAILED', documents: 1, failed: 1, chunks: 0 });
  expect(outcome.msg).toMatch(/^ingestion job [0-9a-f-]{36} FAILED: Every input failed/);

  const queueLines = server.logs.filter((l) => l.component === 'worker' && l.queueJob !== undefined);
  expect(queueLines.some((l) => l.task === 'ingest')).toBe(true);
  for (const line of queueLines) {
    expect(line.job).toBeUndefined();
    expect(line.msg).not.toMatch(/with success/);
    expect(JSON.stringify(line).length).toBeLessThan(400);
  }
  expect(server.logs.filter((l) => typeof l.msg === 'string' && /with success/.test(l.msg))).toEqual([]);
});

it('one line per request: method, path, operation, status, duration, request id and tenant; no variables', async () => {
  const { server, owner } = state;
  const secretName = 'a name only the variables carry 8d1e';
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}`, 'x-request-id': 'log-lines-1' },
    body: JSON.stringify({ query: 'mutation Make($input: CreateDatasetInput!) { createDataset(input: $input) { id } }', variables: { input: { name: secretName, slug: 'log-lines-ds' } } }),
  });
  expect(response.status).toBe(200);
  const line = await vi.waitFor(() => {
    const found = server.logs.find((l) => l.requestId === 'log-lines-1' && l.status !== undefined);
    if (!found) throw new Error('no request line yet');
    return found;
  });
  expect(line).toMatchObject({ level: 30, method: 'POST', path: '/graphql', operation: 'mutation Make', status: 200, tenant: owner.tenant.id });
  expect(line.msg).toMatch(/^POST \/graphql mutation Make 200 [\d.]+ ms$/);
  expect(JSON.stringify(line)).not.toContain(secretName);
  expect(JSON.stringify(line)).not.toContain(owner.token);
});

it('LOG_FORMAT=pretty writes readable lines, still redacted', async () => {
  const script = `
    const { createLogger } = await import('./src/platform/logging/logger.ts');
    const logger = createLogger({ level: 'info', format: 'pretty' });
    logger.child({ component: 'demo' }).info({ password: 'hunter2-pretty', status: 200 }, 'signed in as ann@example.com');`;
  const run = await runNode(['--import', 'tsx', '--input-type=module', '-e', script]);
  expect(run.code).toBe(0);
  const line = run.stdout.trim();
  expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[demo\] signed in as \[redacted email\] \{"password":"\[redacted\]","status":200\}$/);
  // Piped: no colour codes.
  expect(line).not.toContain('\u001b[');
  expect(run.stdout).not.toContain('hunter2-pretty');
});
