/** `sluice ingest <dataset> <files or folders...>`: upload, then watch the jobs to their end. */
import { CliError, EXIT, type Cli, type Command } from '../cli.js';
import { collectFiles } from '../files.js';
import { progressView, type Progress } from '../progress.js';
import { findDataset, megabytes } from './datasets.js';
import { failedInputs, oneLine, uploadInBatches, type FailedInput } from './ingest-upload.js';
import { watchFolder } from './ingest-watch.js';
import { numberOption } from './lookup.js';

const WHOLE = { integer: true, min: 0 };

export const ingest: Command = {
  name: 'ingest',
  summary: 'upload files or folders into a dataset, with live progress',
  usage: '<dataset> <files or folders...> [--chunk-size <n>] [--chunk-overlap <n>] [--json-text-field <path>] [--json-title-field <path>] [--json-id-field <path>] [--batch-mb <n>] [--no-wait] | <dataset> <folder> --watch [--interval <s>]',
  help: `Uploads files into a dataset (by slug or id). Folders are walked for the formats Sluice
parses (.txt .md .html .json .jsonl .csv); other files there are skipped and counted. Files go
in batches (100 files or --batch-mb, default 16 MB, per request; each batch is one job) and
each job's progress is shown live: stage, percent, documents, chunks, MB/s and ETA (a bar at a
terminal, a line per change otherwise); while a dataset's embedding model embeds the job's
chunks, the chunks embedded of those to embed, with their own percent and ETA. Exits 1 if a job or a document failed. --no-wait
returns once the files are uploaded. When the tenant has as many jobs queued or running as it may
(RATE_LIMITED, QUEUED_JOBS), the rest are sent as this command's earlier jobs end (said on stderr). With --json, prints the jobs' outcomes as JSON at the end.
For .json and .jsonl files, --json-text-field names the field with each record's text as a
dotted path (default "text", e.g. body.content), --json-title-field its title (default "title")
and --json-id-field a stable id per record (default its position).

--watch keeps one folder and the dataset in step until Ctrl-C: new and changed files are
ingested (live progress), deleted files' documents removed (only those this watcher wrote, and
not since rewritten by someone else), unchanged files cost nothing (what
was sent is remembered by size and time in the config directory, across runs). It looks again
when the folder changes and every --interval seconds (default 10). With --json, one JSON line
per change. See docs/cli.md.`,
  options: {
    'chunk-size': { type: 'string' },
    'chunk-overlap': { type: 'string' },
    'json-text-field': { type: 'string' },
    'json-title-field': { type: 'string' },
    'json-id-field': { type: 'string' },
    'batch-mb': { type: 'string' },
    'no-wait': { type: 'boolean' },
    watch: { type: 'boolean' },
    interval: { type: 'string' },
  },
  async run(cli, args, values) {
    const [datasetRef, ...paths] = args;
    if (!datasetRef || paths.length === 0) throw new CliError('give a dataset and at least one file or folder', EXIT.usage);
    const options = {
      chunkSize: numberOption(values['chunk-size'], '--chunk-size', WHOLE),
      chunkOverlap: numberOption(values['chunk-overlap'], '--chunk-overlap', WHOLE),
      jsonTextField: values['json-text-field'] as string | undefined,
      jsonTitleField: values['json-title-field'] as string | undefined,
      jsonIdField: values['json-id-field'] as string | undefined,
    };
    const batchBytes = (numberOption(values['batch-mb'], '--batch-mb', WHOLE) ?? 16) * 1024 * 1024;
    if (values.watch) {
      if (paths.length !== 1) throw new CliError('--watch keeps one folder in step: give exactly one', EXIT.usage);
      const intervalSeconds = numberOption(values.interval, '--interval', WHOLE) ?? 10;
      if (intervalSeconds < 1) throw new CliError('--interval must be at least 1 second', EXIT.usage);
      return watchFolder(cli, { datasetRef, folder: paths[0]!, options, batchBytes, intervalMs: intervalSeconds * 1000 });
    }
    const { files, skipped } = await collectFiles(paths).catch((error: Error) => {
      throw new CliError(error.message, EXIT.usage);
    });
    if (files.length === 0) throw new CliError(`nothing to ingest in ${paths.join(', ')}${skipped.length ? ` (${skipped.length} files of other formats skipped)` : ''}`, EXIT.usage);

    const client = cli.client();
    const dataset = await findDataset(client, datasetRef);
    const total = files.reduce((sum, file) => sum + file.bytes, 0);
    if (!cli.json) cli.note(`Ingesting ${files.length} files (${megabytes(total)}) into ${dataset.slug}${skipped.length ? `; skipped ${skipped.length} of other formats` : ''}`);

    const view = values['no-wait'] ? undefined : progressView(cli.stderr);
    try {
      const { jobs, followed } = await uploadInBatches(client, dataset.id, files, { options, batchBytes, view, note: (line) => (view ? view.note(line) : cli.note(line)) });
      const outcomes = await Promise.all(followed);
      view?.stop();
      return report(cli, dataset.slug, jobs, outcomes, await failedInputs(client, outcomes));
    } catch (error) {
      view?.stop();
      throw error;
    }
  },
};

function report(cli: Cli, dataset: string, jobs: { id: string; files: string[] }[], outcomes: Progress[], failures: FailedInput[]): number {
  if (outcomes.length === 0) {
    cli.print(`Uploaded ${jobs.length} jobs into ${dataset}: ${jobs.map((job) => job.id).join(', ')}`, { dataset, jobs });
    return EXIT.ok;
  }
  const ended = outcomes.filter((outcome) => outcome.stage !== 'COMPLETED').map((outcome) => `job ${outcome.jobId} ${outcome.stage}${outcome.error ? `: ${oneLine(outcome.error)}` : ''}`);
  const documents = outcomes.reduce((sum, outcome) => sum + outcome.documentsDone, 0);
  const chunks = outcomes.reduce((sum, outcome) => sum + outcome.chunksDone, 0);
  // The counts decide, not only the list: a failure the job could not name still fails the run.
  const failed = Math.max(failures.length, outcomes.reduce((sum, outcome) => sum + outcome.documentsFailed, 0));
  const ok = failed === 0 && ended.length === 0;
  const counts = `${documents} inputs, ${chunks} chunks into ${dataset} (${outcomes.length} jobs)`;
  const summary = ok ? `Ingested ${counts}` : `Ingestion ended with problems: ${counts}${failed > 0 ? `; ${failed} failed:` : ''}`;
  cli.print([summary, ...failures.map((failure) => `  ${oneLine(failure.name)}: ${oneLine(failure.reason)}`), ...ended].join('\n'), {
    dataset,
    ok,
    jobs: outcomes.map((outcome) => ({ id: outcome.jobId, stage: outcome.stage, documentsDone: outcome.documentsDone, documentsFailed: outcome.documentsFailed, chunks: outcome.chunksDone, error: outcome.error ?? null })),
    failures,
  });
  if (failed > 0) cli.note(`sluice ingest: ${failed} of ${documents} inputs failed`);
  else if (!ok) cli.note(`sluice ingest: ${ended.length} of ${outcomes.length} jobs did not complete`);
  return ok ? EXIT.ok : EXIT.failed;
}
