/** `sluice datasets create|list|update|reembed|delete`. */
import {
  CreateDatasetDocument,
  DatasetDocument,
  DatasetsDocument,
  DeleteDatasetDocument,
  ReembedDatasetDocument,
  SluiceError,
  UpdateDatasetDocument,
  type DatasetFieldsFragment,
  type SluiceClient,
} from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { allPages, confirmed, findModel } from './lookup.js';
import { embeddingSummary, latestReembedJob, reportReembed } from './reembed-job.js';

export const datasetsCreate: Command = {
  name: 'datasets create',
  summary: 'create a dataset',
  usage: '<slug> [--name <name>] [--description <text>] [--language <regconfig>] [--embedding-model <model>]',
  help: `Creates a dataset. The slug (lowercase letters, digits, dashes) names it in URLs and
commands; --name defaults to the slug. --language is the text-search language (default english).
--embedding-model names one of your embeddings models (by name or id, see \`sluice models list\`)
to embed its chunks with as they are ingested, for semantic and hybrid endpoints; without it the
dataset is keyword-only (\`sluice datasets update --embedding-model\` gives it one later).`,
  options: { name: { type: 'string' }, description: { type: 'string' }, language: { type: 'string' }, 'embedding-model': { type: 'string' } },
  async run(cli, args, values) {
    const [slug] = args;
    if (!slug) throw new CliError('give the new dataset a slug, e.g. `sluice datasets create handbook`', EXIT.usage);
    const client = cli.client();
    const model = values['embedding-model'] === undefined ? undefined : await findModel(client, String(values['embedding-model']));
    const input = {
      slug,
      name: (values.name as string | undefined) ?? slug,
      description: values.description as string | undefined,
      language: values.language as string | undefined,
      embeddingModelId: model?.id,
    };
    const { createDataset } = await client.mutate(CreateDatasetDocument, { input });
    const embedding = createDataset.embedding?.model ? `, embedding model ${createDataset.embedding.model.name}` : '';
    cli.print(`Created dataset ${createDataset.slug} (${createDataset.id})${embedding}`, createDataset);
  },
};

export const datasetsList: Command = {
  name: 'datasets list',
  summary: "list your tenant's datasets",
  usage: '[--name-contains <text>]',
  help: `Lists datasets with their document and chunk counts, size and embeddings: the embedding model
with its chunks embedded of all chunks ("emb 12/12"), and while a new model re-embeds them, whose
vectors answer semantic queries meanwhile ("(serving old)"); "-" for a keyword-only dataset.`,
  options: { 'name-contains': { type: 'string' } },
  async run(cli, _args, values) {
    const client = cli.client();
    const nameContains = values['name-contains'] as string | undefined;
    const datasets = await allPages(async (after) => (await client.query(DatasetsDocument, { first: 100, after, nameContains })).datasets);
    const rows = datasets.map((dataset) => [
      dataset.slug,
      dataset.name,
      String(dataset.documentCount),
      String(dataset.chunkCount),
      megabytes(dataset.bytes),
      embeddingSummary(dataset),
      dataset.lastIngestedAt ?? '-',
    ]);
    cli.print(table(['SLUG', 'NAME', 'DOCUMENTS', 'CHUNKS', 'SIZE', 'EMBEDDING', 'LAST INGESTED'], rows), datasets);
  },
};

export const datasetsUpdate: Command = {
  name: 'datasets update',
  summary: "change a dataset's name, description or embedding model",
  usage: '<dataset> [--name <name>] [--description <text>] [--embedding-model <model> | --no-embedding-model] [--no-wait]',
  help: `Changes a dataset (by slug or id). --description '' clears the description.
--embedding-model names one of your embeddings models (by name or id, see \`sluice models list\`):
another model than the dataset's queues a re-embed job, whose live progress is shown like
\`sluice ingest\`'s (stage, percent, chunks embedded of those to embed) until it ends; semantic
queries go on with the current vectors until it completes. Exits 1 if the job does not complete.
--no-wait returns once the job is queued. --no-embedding-model makes the dataset keyword-only
at once: its vectors are deleted. Needs WRITE.`,
  options: { name: { type: 'string' }, description: { type: 'string' }, 'embedding-model': { type: 'string' }, 'no-embedding-model': { type: 'boolean' }, 'no-wait': { type: 'boolean' } },
  async run(cli, args, values) {
    const [reference] = args;
    if (!reference) throw new CliError('which dataset? give its slug (see `sluice datasets list`)', EXIT.usage);
    const modelRef = values['embedding-model'] as string | undefined;
    if (modelRef !== undefined && values['no-embedding-model']) throw new CliError('give --embedding-model or --no-embedding-model, not both', EXIT.usage);
    if (values.name === undefined && values.description === undefined && modelRef === undefined && !values['no-embedding-model']) {
      throw new CliError('nothing to change: give --name, --description, --embedding-model or --no-embedding-model', EXIT.usage);
    }
    const client = cli.client();
    const dataset = await findDataset(client, reference);
    // Both looked up before anything changes: a model that is not there changes nothing.
    const model = modelRef === undefined ? undefined : await findModel(client, modelRef);
    const embeddingModelId = model ? model.id : values['no-embedding-model'] ? null : undefined;
    const input = { name: values.name as string | undefined, description: values.description as string | undefined, embeddingModelId };
    const { updateDataset } = await client.mutate(UpdateDatasetDocument, { id: dataset.id, input });
    // Only another model queues a job (the same one again changes nothing; none deletes the vectors).
    if (model && model.id !== (dataset.embedding?.model?.id ?? null)) {
      return reportReembed(cli, 'datasets update', updateDataset, await latestReembedJob(client, dataset.id), !values['no-wait']);
    }
    const embedding = embeddingModelId === null ? ': no embedding model, keyword search only now (its vectors are deleted)' : model ? `: its embedding model was ${model.name} already` : '';
    cli.print(`Updated dataset ${updateDataset.slug}${embedding}`, { dataset: updateDataset, job: null });
  },
};

export const datasetsReembed: Command = {
  name: 'datasets reembed',
  summary: "embed a dataset's chunks that have no vector yet, with live progress",
  usage: '<dataset> [--no-wait]',
  help: `Queues a re-embed job for a dataset (by slug or id): it embeds the chunks that have no vector
by the dataset's embedding model yet (after a job failed in its EMBEDDING stage, say); nothing is
embedded twice. Its live progress is shown like \`sluice ingest\`'s until it ends; exits 1 if it
does not complete. --no-wait returns once it is queued. A keyword-only dataset is refused: give it
a model first (\`sluice datasets update <dataset> --embedding-model <model>\`). Needs WRITE.`,
  options: { 'no-wait': { type: 'boolean' } },
  async run(cli, args, values) {
    const [reference] = args;
    if (!reference) throw new CliError('which dataset? give its slug (see `sluice datasets list`)', EXIT.usage);
    const client = cli.client();
    const dataset = await findDataset(client, reference);
    const { reembedDataset } = await client.mutate(ReembedDatasetDocument, { datasetId: dataset.id });
    return reportReembed(cli, 'datasets reembed', dataset, reembedDataset.id, !values['no-wait']);
  },
};

export const datasetsDelete: Command = {
  name: 'datasets delete',
  summary: 'delete a dataset with its documents (asks first unless --yes)',
  usage: '<dataset> [--yes]',
  help: `Deletes a dataset (by slug or id) with its documents, chunks and ingestion jobs; a running
job stops. At a terminal it asks you to type the slug; elsewhere (a script, a pipe) it needs
--yes. Needs WRITE.`,
  options: { yes: { type: 'boolean', short: 'y' } },
  async run(cli, args, values) {
    const [reference] = args;
    if (!reference) throw new CliError('which dataset? give its slug (see `sluice datasets list`)', EXIT.usage);
    const dataset = await findDataset(cli.client(), reference);
    await confirmed(cli, values.yes, `dataset ${dataset.slug} with its ${dataset.documentCount} documents`, dataset.slug);
    await cli.client().mutate(DeleteDatasetDocument, { id: dataset.id });
    cli.print(`Deleted dataset ${dataset.slug} (${dataset.documentCount} documents, ${dataset.chunkCount} chunks)`, { id: dataset.id, slug: dataset.slug, deleted: true });
  },
};

/** A dataset by slug, or by id. */
export async function findDataset(client: SluiceClient, reference: string): Promise<DatasetFieldsFragment> {
  const bySlug = /^[a-z0-9-]+$/.test(reference) ? (await client.query(DatasetDocument, { slug: reference, first: 0 })).dataset : null;
  // Not a slug of theirs: maybe an id. Only "that is no id" means not found; an unreachable
  // server or an expired session must still say so.
  const byId = bySlug
    ? null
    : await client.query(DatasetDocument, { id: reference, first: 0 }).then(
        ({ dataset }) => dataset,
        (error: unknown) => {
          if (error instanceof SluiceError && error.code === 'BAD_USER_INPUT') return null;
          throw error;
        },
      );
  const found = bySlug ?? byId;
  if (!found) throw new CliError(`no dataset "${reference}" in your tenant (see \`sluice datasets list\`)`, EXIT.failed);
  return found;
}

export function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
