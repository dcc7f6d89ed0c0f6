/**
 * Uploaded files are decoded a bounded step at a time (upload-text.ts). Whole, one after the
 * other with nothing between them but resolved promises, the files of one `ingestDocuments`
 * call held the event loop that serves every tenant: 60 Markdown files of 1 MB for 0.7 to
 * 0.9 s on a loaded 2-core machine (docs/ingestion.md). The steps are counted in turns of the
 * event loop, not timed; the text they make is checked byte for byte on a real upload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../../src/db/bootstrap.js';
import { DECODE_STEP_BYTES, decodeUpload } from '../../src/domains/ingestion/upload-text.js';
import { createDataset, ingestFiles, tenantWithOwner } from '../support/ingestion.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { databaseIdOf } from '../support/global-ids.js';

/** Text of about `bytes` UTF-8 bytes whose 2-, 3- and 4-byte characters fall across every step's edge. */
function mixedText(bytes: number): string {
  const unit = 'Lamp é 灯 🜂 wound at dusk.\n'; // 1 + 2 + 3 + 4-byte characters, 35 bytes: no power of two divides it
  return '# Keeper\n\n' + unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)));
}

/** Decodes `file` while counting the turns the event loop takes meanwhile (a setImmediate chain). */
async function decodeCountingTurns(file: Blob, name: string) {
  let turns = 0;
  let decoding = true;
  const turn = () => {
    if (!decoding) return;
    turns += 1;
    setImmediate(turn);
  };
  setImmediate(turn);
  try {
    return { ...(await decodeUpload(file, name)), turns };
  } finally {
    decoding = false;
  }
}

describe('decoding runs in bounded steps', () => {
  it('lets the event loop turn at least once per DECODE_STEP_BYTES of a file', async () => {
    const text = mixedText(6 * DECODE_STEP_BYTES);
    const bytes = new TextEncoder().encode(text);
    // One part of 6 MiB, as an in-process client's File arrives: the steps do not depend on the parser's pieces.
    const decoded = await decodeCountingTurns(new Blob([bytes]), 'keeper.md');
    expect(decoded.text).toBe(text);
    expect(decoded.byteCount).toBe(bytes.byteLength);
    expect(decoded.turns).toBeGreaterThanOrEqual(Math.ceil(bytes.byteLength / DECODE_STEP_BYTES));
  });

  it('lets it turn before each file, however small', async () => {
    let turns = 0;
    for (let index = 0; index < 5; index += 1) {
      turns += (await decodeCountingTurns(new Blob([`note ${index}`]), `note-${index}.txt`)).turns;
    }
    expect(turns).toBeGreaterThanOrEqual(5);
  });

  it('refuses what is not UTF-8 text, wherever it lies, and drops the byte order mark', async () => {
    const reasonOf = (file: Blob) => decodeUpload(file, 'bad.txt').then(() => 'accepted', (error) => error.details?.reason);
    const filler = new Uint8Array(DECODE_STEP_BYTES + 7).fill(0x61);
    expect(await reasonOf(new Blob([Uint8Array.from([0x48, 0xc3, 0x28])]))).toBe('INVALID_ENCODING');
    expect(await reasonOf(new Blob([filler, Uint8Array.from([0xc3, 0x28])]))).toBe('INVALID_ENCODING');
    expect(await reasonOf(new Blob([filler, Uint8Array.from([0xf0, 0x9f])]))).toBe('INVALID_ENCODING'); // cut at the end
    expect(await reasonOf(new Blob([filler, new TextEncoder().encode('a\u0000b')]))).toBe('INVALID_ENCODING');
    expect((await decodeUpload(new Blob([Uint8Array.from([0xef, 0xbb, 0xbf, 0x68, 0x69])]), 'bom.txt')).text).toBe('hi');
  });
});

describe('over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ worker: false });
  });
  afterAll(() => server?.close());

  it('stores each uploaded file as the text it encodes, and refuses one with a bad byte past its first step', async () => {
    const { token } = await tenantWithOwner(server);
    const dataset = await createDataset(server, token);
    const large = mixedText(3 * DECODE_STEP_BYTES);
    const files = [
      { name: 'large.md', type: 'text/markdown', content: `\uFEFF${large}` },
      { name: 'small.txt', type: 'text/plain', content: 'Fog horns sound when the harbour is blind.' },
    ];
    const { body } = await ingestFiles(server, token, dataset.id, files);
    expect(body.errors).toBeUndefined();
    const jobId = databaseIdOf(body.data.ingestDocuments.id);
    const rows = await withClient(server.database.ownerUrl, async (client) =>
      (await client.query(`select name, content, byte_count from ingestion_items where job_id = $1 order by ordinal`, [jobId])).rows,
    );
    expect(rows).toEqual([
      { name: 'large.md', content: large, byte_count: Buffer.byteLength(large) + 3 },
      { name: 'small.txt', content: files[1]!.content, byte_count: Buffer.byteLength(files[1]!.content) },
    ]);

    const bad = Buffer.concat([Buffer.from(large), Buffer.from([0xc3, 0x28])]);
    const refused = await ingestFiles(server, token, dataset.id, [files[1]!, { name: 'bad.md', type: 'text/markdown', content: bad }]);
    expect(refused.body.errors[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'INVALID_ENCODING',
      problems: [{ index: 1, name: 'bad.md', reason: 'INVALID_ENCODING', message: '"bad.md" is not valid UTF-8 text' }],
    });
  });
});
