/**
 * The ingest progress view at a terminal: cli-progress bars redrawn in place, one per job,
 * with stage, percent, documents, chunks, rate and ETA (a re-embed job, and an ingest job's EMBEDDING stage: chunks embedded). (Child-process runs have no terminal,
 * so test/cli/cli.test.ts sees the line view; this is the other one.)
 */
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { progressView, type Progress } from '../../src/cli/progress.js';

function progress(stage: string, percent: number, extra: Partial<Progress> = {}): Progress {
  return {
    jobId: 'job-1',
    stage: stage as Progress['stage'],
    percent,
    documentsTotal: 4,
    documentsDone: Math.round((percent / 100) * 4),
    documentsFailed: 0,
    chunksDone: percent * 3,
    bytesDone: percent * 1000,
    bytesTotal: 100_000,
    etaSeconds: stage === 'COMPLETED' ? null : 7,
    error: null,
    sequence: percent,
    documents: [],
    ...extra,
  } as Progress;
}

function terminal() {
  const screen = { written: '' };
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        screen.written += String(chunk);
        done();
      },
    }),
    { isTTY: true, columns: 160, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
  );
  return { stream, screen, lastFrame: (label: string) => screen.written.split(/\r|\n|\u001b\[[0-9;]*[A-Za-z]/).filter((line) => line.includes(label)).at(-1) };
}

it('draws a bar per job at a terminal, with the figures of the latest update', () => {
  const { stream, lastFrame } = terminal();
  const view = progressView(stream);
  view.update('job 1', progress('PARSING', 0));
  view.update('job 1', progress('CHUNKING', 50));
  view.update('job 1', progress('COMPLETED', 100));
  view.stop();
  expect(lastFrame('job 1')).toMatch(/^job 1 █{24} 100% \| COMPLETED \| docs 4\/4 \| chunks 300 \| ([\d.]+|-) MB\/s \| done$/);
});

it('shows a re-embed job, which has no inputs, by its chunks embedded of those to embed', () => {
  const { stream, lastFrame } = terminal();
  const view = progressView(stream);
  const reembed = { kind: 'REEMBED', documentsTotal: 0, documentsDone: 0, bytesDone: 0, bytesTotal: 0 } as Partial<Progress>;
  view.update('re-embed', progress('QUEUED', 0, { ...reembed, chunksEmbedded: 0, chunksToEmbed: 0 }));
  view.update('re-embed', progress('EMBEDDING', 40, { ...reembed, chunksEmbedded: 4, chunksToEmbed: 10 }));
  view.stop();
  expect(lastFrame('re-embed')).toMatch(/^re-embed █{10}░{14}  40% \| EMBEDDING \| chunks embedded 4\/10 \| ETA 7s$/);
});

it("draws an ingest job's EMBEDDING stage by its chunks embedded, its ETA from their rate (not 100 % and ETA -)", () => {
  // The view's own clock, moved by the test (cli-progress's timers run): the ETA comes from the time between updates.
  let now = 0;
  const { stream, lastFrame } = terminal();
  const view = progressView(stream, () => now);
  // The server's figures for an ingest job embedding: percent 100 (its bytes are all done), no ETA.
  const embedding = { kind: 'INGEST', etaSeconds: null, chunksToEmbed: 10 } as Partial<Progress>;
  view.update('job 1', progress('INDEXING', 100, { kind: 'INGEST' }));
  view.update('job 1', progress('EMBEDDING', 100, { ...embedding, chunksEmbedded: 0 }));
  now = 2_000;
  view.update('job 1', progress('EMBEDDING', 100, { ...embedding, chunksEmbedded: 4 }));
  view.stop();
  // 4 chunks in 2 s: the 6 left take 3 s.
  expect(lastFrame('job 1')).toMatch(/^job 1 █{10}░{14}  40% \| EMBEDDING \| docs 4\/4 \| embedded 4\/10 chunks \| ETA 3s$/);
});

it("cleans the server's stage and figures in the bar: a hostile server's escapes never reach the terminal", () => {
  const { stream, screen, lastFrame } = terminal();
  const view = progressView(stream);
  // Not what Sluice sends (an enum, numbers); what the SDK passes on from a server that sends it.
  const hostile = { kind: 'REEMBED', stage: '\u001b]52;c;aGFja2Vk\u0007EMBEDDING', chunksEmbedded: '4\u001b[2J', chunksToEmbed: '10\u001b]0;owned\u0007', etaSeconds: '5\u009b2J' } as unknown as Partial<Progress>;
  view.update('re-embed', progress('EMBEDDING', 40, hostile));
  view.stop();
  // cli-progress's own cursor sequences stay; the server's clipboard write, title and screen clear do not.
  expect(screen.written).not.toMatch(/\u001b\]|\u001b\[2J|\u009b|\u0007/);
  expect(lastFrame('re-embed')).toMatch(/^re-embed █{10}░{14}  40% \| EMBEDDING \| chunks embedded 4\/10 \| ETA 5s$/);
});
