/** `sluice datasets create|list|delete`. */
import { CreateDatasetDocument, DatasetDocument, DatasetsDocument, DeleteDatasetDocument, SluiceError, type DatasetFieldsFragment, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { allPages, confirmed } from './lookup.js';

export const datasetsCreate: Command = {
  name: 'datasets create',
  summary: 'create a dataset',
  usage: '<slug> [--name <name>] [--description <text>] [--language <regconfig>]',
  help: `Creates a dataset. The slug (lowercase letters, digits, dashes) names it in URLs and
commands; --name defaults to the slug. --language is the text-search language (default english).`,
  options: { name: { type: 'string' }, description: { type: 'string' }, language: { type: 'string' } },
  async run(cli, args, values) {
    const [slug] = args;
    if (!slug) throw new CliError('give the new dataset a slug, e.g. `sluice datasets create handbook`', EXIT.usage);
    const input = { slug, name: (values.name as string | undefined) ?? slug, description: values.description as string | undefined, language: values.language as string | undefined };
    const { createDataset } = await cli.client().mutate(CreateDatasetDocument, { input });
    cli.print(`Created dataset ${createDataset.slug} (${createDataset.id})`, createDataset);
  },
};

export const datasetsList: Command = {
  name: 'datasets list',
  summary: "list your tenant's datasets",
  usage: '[--name-contains <text>]',
  help: 'Lists datasets with their document and chunk counts and size.',
  options: { 'name-contains': { type: 'string' } },
  async run(cli, _args, values) {
    const client = cli.client();
    const nameContains = values['name-contains'] as string | undefined;
    const datasets = await allPages(async (after) => (await client.query(DatasetsDocument, { first: 100, after, nameContains })).datasets);
    const rows = datasets.map((dataset) => [dataset.slug, dataset.name, String(dataset.documentCount), String(dataset.chunkCount), megabytes(dataset.bytes), dataset.lastIngestedAt ?? '-']);
    cli.print(table(['SLUG', 'NAME', 'DOCUMENTS', 'CHUNKS', 'SIZE', 'LAST INGESTED'], rows), datasets);
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
