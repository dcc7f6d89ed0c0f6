/**
 * The ingest progress view at a terminal: cli-progress bars redrawn in place, one per job,
 * with stage, percent, documents, chunks, rate and ETA. (Child-process runs have no terminal,
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

it('draws a bar per job at a terminal, with the figures of the latest update', () => {
  let written = '';
  const terminal = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        written += String(chunk);
        done();
      },
    }),
    { isTTY: true, columns: 160, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
  );
  const view = progressView(terminal);
  view.update('job 1', progress('PARSING', 0));
  view.update('job 1', progress('CHUNKING', 50));
  view.update('job 1', progress('COMPLETED', 100));
  view.stop();
  const lastFrame = written.split(/\r|\n|\u001b\[[0-9;]*[A-Za-z]/).filter((line) => line.includes('job 1')).at(-1);
  expect(lastFrame).toMatch(/^job 1 █{24} 100% \| COMPLETED \| docs 4\/4 \| chunks 300 \| ([\d.]+|-) MB\/s \| done$/);
});
