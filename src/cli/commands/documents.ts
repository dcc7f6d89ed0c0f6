/** `sluice documents list|delete`: what a dataset holds. */
import { DatasetDocument, DeleteDocumentDocument, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { findDataset, megabytes } from './datasets.js';
import { allPages, confirmed } from './lookup.js';

export const documentsList: Command = {
  name: 'documents list',
  summary: "a dataset's documents, oldest first",
  usage: '<dataset>',
  help: "Lists a dataset's documents (by the dataset's slug or id): title, source key, type, size and chunks.",
  async run(cli, args) {
    const [reference] = args;
    if (!reference) throw new CliError('which dataset? give its slug (see `sluice datasets list`)', EXIT.usage);
    const documents = await documentsOf(cli.client(), reference);
    const rows = documents.map((document) => [document.title, document.sourceKey, document.mimeType, megabytes(document.bytes), String(document.chunkCount), document.createdAt]);
    cli.print(table(['TITLE', 'SOURCE', 'TYPE', 'SIZE', 'CHUNKS', 'ADDED'], rows), documents);
  },
};

export const documentsDelete: Command = {
  name: 'documents delete',
  summary: 'delete a document with its chunks (asks first unless --yes)',
  usage: '<dataset> <source key, title or id> [--yes]',
  help: `Deletes one document of a dataset with its chunks and embeddings; the dataset's counts and
search statistics follow at once. Name it by its source key or title (as \`sluice documents
list\` shows them) or its id; a title two documents share is refused: give the source key. At a
terminal it asks you to type the source key; elsewhere it needs --yes. Ingesting the same file
again brings it back. Needs WRITE.`,
  options: { yes: { type: 'boolean', short: 'y' } },
  async run(cli, args, values) {
    const [datasetRef, reference] = args;
    if (!datasetRef || !reference) throw new CliError('give the dataset and the document (its source key, title or id)', EXIT.usage);
    const documents = await documentsOf(cli.client(), datasetRef);
    const exact = documents.filter((document) => document.id === reference || document.sourceKey === reference);
    const matches = exact.length > 0 ? exact : documents.filter((document) => document.title === reference);
    if (matches.length === 0) throw new CliError(`no document "${reference}" in ${datasetRef} (see \`sluice documents list ${datasetRef}\`)`, EXIT.failed);
    if (matches.length > 1) throw new CliError(`"${reference}" names ${matches.length} documents: give the source key (${matches.map((document) => document.sourceKey).join(', ')})`, EXIT.usage);
    const document = matches[0]!;
    await confirmed(cli, values.yes, `document ${document.sourceKey} with its ${document.chunkCount} chunks`, document.sourceKey);
    const { deleteDocument } = await cli.client().mutate(DeleteDocumentDocument, { id: document.id });
    cli.print(`Deleted ${deleteDocument.sourceKey} (${deleteDocument.chunkCount} chunks) from ${datasetRef}`, { ...deleteDocument, deleted: true });
  },
};

async function documentsOf(client: SluiceClient, datasetRef: string) {
  const dataset = await findDataset(client, datasetRef);
  return allPages(async (after) => {
    const page = (await client.query(DatasetDocument, { id: dataset.id, first: 100, after })).dataset?.documents;
    if (!page) throw new CliError(`dataset ${dataset.slug} is gone`, EXIT.failed);
    return page;
  });
}
