/**
 * Live ingestion progress on the terminal: a bar per job (stage, percent, documents, chunks,
 * MB/s, ETA; a re-embed job, which has no inputs: chunks embedded of those to embed) redrawn in
 * place when stderr is a terminal, else a plain line per notable change (a new stage, 10 more
 * percent, or 2 seconds since the last line), so logs and pipes get a readable record. Figures
 * come from the `ingestionProgress` subscription; the rate is measured here, from bytes done
 * since the job started. An ingest job's EMBEDDING stage is shown by its chunks embedded of
 * those to embed, with a bar and ETA of their own (docs/ingestion.md, "Progress").
 */
import cliProgress from 'cli-progress';
import type { IngestionProgressSubscription } from '../sdk/index.js';
import { terminalText, writeText } from './terminal-text.js';

export type Progress = IngestionProgressSubscription['ingestionProgress'];

export interface ProgressView {
  update(label: string, progress: Progress): void;
  /** A line of its own among the jobs' (a bar view keeps it above the bars instead of breaking them). */
  note(line: string): void;
  stop(): void;
}

/** The stages a job ends in. */
export const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** `now`: the clock rates and ETAs are measured by (a test's own; the process's by default). */
export function progressView(stream: NodeJS.WritableStream & { isTTY?: boolean }, now: () => number = Date.now): ProgressView {
  const started = new Map<string, number>();
  const embedding = new Map<string, EmbeddingStart>();
  const figures = (label: string, progress: Progress): Figures => {
    if (progress.stage !== 'QUEUED' && !started.has(progress.jobId)) started.set(progress.jobId, now());
    const seconds = (now() - (started.get(progress.jobId) ?? now())) / 1000;
    const rate = seconds > 0.2 ? `${(progress.bytesDone / 1e6 / seconds).toFixed(1)} MB/s` : '- MB/s';
    const failed = progress.documentsFailed > 0 ? `, ${progress.documentsFailed} failed` : '';
    const docs = `docs ${progress.documentsDone}/${progress.documentsTotal}${failed}`;
    let { percent, etaSeconds } = progress;
    let work: string;
    if (progress.kind === 'REEMBED') {
      // A re-embed job reads no input: its only figures are the chunks it embeds.
      work = `chunks embedded ${progress.chunksEmbedded}/${progress.chunksToEmbed}`;
    } else if (progress.stage === 'EMBEDDING') {
      // An ingest job's bytes are all processed before it embeds, so the server's percent stays
      // 100 and its ETA null meanwhile, and a bytes rate only falls: the chunks are the work left.
      if (!embedding.has(progress.jobId)) embedding.set(progress.jobId, { at: now(), chunksEmbedded: progress.chunksEmbedded });
      percent = progress.chunksToEmbed > 0 ? (100 * progress.chunksEmbedded) / progress.chunksToEmbed : 100;
      etaSeconds = embeddingEta(embedding.get(progress.jobId)!, progress, now());
      work = `${docs} | embedded ${progress.chunksEmbedded}/${progress.chunksToEmbed} chunks`;
    } else {
      work = `${docs} | chunks ${progress.chunksDone} | ${rate}`;
    }
    // Every text shown is cleaned here, for both views: the label may quote the server's data (a
    // dataset's slug, a file's name), and the stage and figures come from the server as sent (the
    // SDK does not check that a stage is one of the enum's, nor that a count is a number).
    return {
      label: terminalText(label),
      stage: terminalText(String(progress.stage)).padEnd(9),
      value: Number(percent) || 0,
      percent: `${Math.floor(percent)}`.padStart(3),
      work: terminalText(work),
      remaining: terminalText(TERMINAL.has(progress.stage) ? 'done' : etaSeconds == null ? 'ETA -' : `ETA ${etaSeconds}s`),
    };
  };
  return stream.isTTY ? barView(stream, figures) : lineView(stream, figures);
}

/** When this view first saw a job's EMBEDDING stage, and the chunks embedded by then. */
interface EmbeddingStart {
  at: number;
  chunksEmbedded: number;
}

/** Seconds left at the rate chunks were embedded since `start`; null until one has been. */
function embeddingEta(start: EmbeddingStart, progress: Progress, at: number): number | null {
  const embedded = progress.chunksEmbedded - start.chunksEmbedded;
  if (embedded <= 0) return null;
  const seconds = (at - start.at) / 1000;
  return Math.max(0, Math.round((seconds * (progress.chunksToEmbed - progress.chunksEmbedded)) / embedded));
}

/** One job's figures as shown: `value` is its bar's percent, the rest are text. */
interface Figures {
  label: string;
  stage: string;
  value: number;
  percent: string;
  work: string;
  remaining: string;
}

type FiguresOf = (label: string, progress: Progress) => Figures;

function barView(stream: NodeJS.WritableStream, figures: FiguresOf): ProgressView {
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
      bar.update(payload.value, payload);
    },
    // Written with the next redraw; nothing was drawn yet when no bar exists, so it can go now.
    note: (line) => (bars.size > 0 ? multibar.log(`${terminalText(line)}\n`) : writeText(stream, `${line}\n`)),
    stop: () => multibar.stop(),
  };
}

function lineView(stream: NodeJS.WritableStream, figures: FiguresOf): ProgressView {
  const last = new Map<string, { stage: string; percent: number; at: number }>();
  return {
    update(label, progress) {
      const shown = figures(label, progress);
      const previous = last.get(progress.jobId);
      const notable =
        !previous || previous.stage !== progress.stage || shown.value - previous.percent >= 10 || Date.now() - previous.at >= 2000 || TERMINAL.has(progress.stage);
      if (!notable) return;
      last.set(progress.jobId, { stage: progress.stage, percent: shown.value, at: Date.now() });
      const { label: name, stage, percent, work, remaining } = shown;
      writeText(stream, `${name} ${stage} ${percent}% | ${work} | ${remaining}\n`);
    },
    note: (line) => writeText(stream, `${line}\n`),
    stop() {},
  };
}
