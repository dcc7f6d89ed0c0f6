/**
 * Live ingestion progress on the terminal: a bar per job (stage, percent, documents, chunks,
 * MB/s, ETA; a re-embed job, which has no inputs: chunks embedded of those to embed) redrawn in
 * place when stderr is a terminal, else a plain line per notable change (a new stage, 10 more
 * percent, or 2 seconds since the last line), so logs and pipes get a readable record. Figures
 * come from the `ingestionProgress` subscription; the rate is measured here, from bytes done
 * since the job started.
 */
import cliProgress from 'cli-progress';
import type { IngestionProgressSubscription } from '../sdk/index.js';

export type Progress = IngestionProgressSubscription['ingestionProgress'];

export interface ProgressView {
  update(label: string, progress: Progress): void;
  stop(): void;
}

/** The stages a job ends in. */
export const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

export function progressView(stream: NodeJS.WritableStream & { isTTY?: boolean }): ProgressView {
  const started = new Map<string, number>();
  const figures = (label: string, progress: Progress) => {
    if (progress.stage !== 'QUEUED' && !started.has(progress.jobId)) started.set(progress.jobId, Date.now());
    const seconds = (Date.now() - (started.get(progress.jobId) ?? Date.now())) / 1000;
    const rate = seconds > 0.2 ? `${(progress.bytesDone / 1e6 / seconds).toFixed(1)} MB/s` : '- MB/s';
    const eta = TERMINAL.has(progress.stage) ? 'done' : progress.etaSeconds == null ? 'ETA -' : `ETA ${progress.etaSeconds}s`;
    const failed = progress.documentsFailed > 0 ? `, ${progress.documentsFailed} failed` : '';
    // A re-embed job reads no input: its only figures are the chunks it embeds.
    const work =
      progress.kind === 'REEMBED'
        ? `chunks embedded ${progress.chunksEmbedded}/${progress.chunksToEmbed}`
        : `docs ${progress.documentsDone}/${progress.documentsTotal}${failed} | chunks ${progress.chunksDone} | ${rate}`;
    return {
      label,
      stage: progress.stage.padEnd(9),
      percent: `${Math.floor(progress.percent)}`.padStart(3),
      work,
      remaining: eta,
    };
  };
  return stream.isTTY ? barView(stream, figures) : lineView(stream, figures);
}

type Figures = (label: string, progress: Progress) => Record<string, string>;

function barView(stream: NodeJS.WritableStream, figures: Figures): ProgressView {
  const multibar = new cliProgress.MultiBar(
    {
      stream,
      format: '{label} {bar} {percent}% | {stage} | {work} | {remaining}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update(label, progress) {
      const payload = figures(label, progress);
      const bar = bars.get(progress.jobId) ?? bars.set(progress.jobId, multibar.create(100, 0, payload)).get(progress.jobId)!;
      bar.update(progress.percent, payload);
    },
    stop: () => multibar.stop(),
  };
}

function lineView(stream: NodeJS.WritableStream, figures: Figures): ProgressView {
  const last = new Map<string, { stage: string; percent: number; at: number }>();
  return {
    update(label, progress) {
      const previous = last.get(progress.jobId);
      const notable =
        !previous || previous.stage !== progress.stage || progress.percent - previous.percent >= 10 || Date.now() - previous.at >= 2000 || TERMINAL.has(progress.stage);
      if (!notable) return;
      last.set(progress.jobId, { stage: progress.stage, percent: progress.percent, at: Date.now() });
      const { label: name, stage, percent, work, remaining } = figures(label, progress);
      stream.write(`${name} ${stage} ${percent}% | ${work} | ${remaining}\n`);
    },
    stop() {},
  };
}
