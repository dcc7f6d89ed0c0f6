/**
 * A dataset's embeddings from the terminal: how far its chunks are embedded (for `datasets
 * list`), and following the re-embed job that `datasets update --embedding-model` and
 * `datasets reembed` queue, with the same live progress as `sluice ingest`'s jobs.
 */
import { DatasetDocument, LatestIngestionJobsDocument, type DatasetFieldsFragment, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT, type Cli } from '../cli.js';
import { progressView, type Progress } from '../progress.js';
import { followJob, oneLine } from './ingest-upload.js';

/** `emb 12/12`; `emb2 3/12 (serving emb)` while a new model re-embeds; `-` for a keyword-only dataset. */
export function embeddingSummary(dataset: DatasetFieldsFragment): string {
  const embedding = dataset.embedding;
  if (!embedding) return '-';
  const model = embedding.model?.name ?? '-';
  const serving = embedding.servingModel;
  const state = !serving ? ' (not serving yet)' : serving.id === embedding.model?.id ? '' : ` (serving ${serving.name})`;
  return `${model} ${embedding.embeddedChunks}/${embedding.totalChunks}${state}`;
}

/**
 * The re-embed job a change of the dataset's model has just queued: its newest REEMBED job
 * (updateDataset answers with the dataset; the job was queued in the same transaction).
 */
export async function latestReembedJob(client: SluiceClient, datasetId: string): Promise<string> {
  const { ingestionJobs } = await client.query(LatestIngestionJobsDocument, { datasetId, last: 20 });
  const job = ingestionJobs.edges.map(({ node }) => node).findLast((node) => node.progress.kind === 'REEMBED');
  if (!job) throw new CliError('the embedding model changed, but its re-embed job was not found (see `sluice datasets list`)', EXIT.failed);
  return job.id;
}

/** What a re-embed came to, for --json. */
interface ReembedReport {
  dataset: DatasetFieldsFragment;
  job: { id: string; stage: string; chunksEmbedded: number; chunksToEmbed: number; error: string | null; errorReason: string | null };
}

/**
 * Follows the re-embed job `jobId` of `dataset` to its end (unless `wait` is false) and prints
 * the outcome with the dataset's embeddings then: exit 1 unless the job COMPLETED.
 */
export async function reportReembed(cli: Cli, command: string, dataset: DatasetFieldsFragment, jobId: string, wait: boolean): Promise<number> {
  const client = cli.client();
  const model = dataset.embedding?.model?.name ?? '-';
  if (!wait) {
    const serving = dataset.embedding?.servingModel?.name;
    const job = { id: jobId, stage: 'QUEUED', chunksEmbedded: 0, chunksToEmbed: 0, error: null, errorReason: null };
    cli.print(`Re-embed job ${jobId} queued for ${dataset.slug} with ${model}; semantic queries use ${serving ? `${serving}'s vectors` : 'no vectors'} until it completes`, { dataset, job } satisfies ReembedReport);
    return EXIT.ok;
  }
  if (!cli.json) cli.note(`Re-embedding ${dataset.slug} with ${model}`);
  const view = progressView(cli.stderr);
  let outcome: Progress;
  try {
    outcome = await followJob(client, jobId, 're-embed', view);
  } finally {
    view.stop();
  }
  const after = (await client.query(DatasetDocument, { id: dataset.id, first: 0 })).dataset ?? dataset;
  const job = { id: jobId, stage: outcome.stage, chunksEmbedded: outcome.chunksEmbedded, chunksToEmbed: outcome.chunksToEmbed, error: outcome.error ?? null, errorReason: outcome.errorReason ?? null };
  const report: ReembedReport = { dataset: after, job };
  if (outcome.stage === 'COMPLETED') {
    const embedding = after.embedding;
    cli.print(`Re-embedded ${after.slug} with ${model}: ${embedding?.embeddedChunks ?? 0} of ${embedding?.totalChunks ?? 0} chunks; semantic queries use ${embedding?.servingModel?.name ?? 'no model yet'}`, report);
    return EXIT.ok;
  }
  const why = [job.errorReason, job.error && oneLine(job.error)].filter(Boolean).join(': ');
  cli.print(`Re-embedding ${after.slug} ended ${outcome.stage}${why ? ` (${why})` : ''}: ${job.chunksEmbedded} of ${job.chunksToEmbed} chunks embedded`, report);
  cli.note(`sluice ${command}: the re-embed job ${jobId} did not complete`);
  return EXIT.failed;
}
