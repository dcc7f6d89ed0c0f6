/** `sluice documents list <dataset>`: what a dataset holds. */
import { DatasetDocument } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { findDataset, megabytes } from './datasets.js';
import { allPages } from './lookup.js';

export const documentsList: Command = {
  name: 'documents list',
  summary: "a dataset's documents, oldest first",
  usage: '<dataset>',
  help: "Lists a dataset's documents (by the dataset's slug or id): title, source key, type, size and chunks.",
  async run(cli, args) {
    const [reference] = args;
    if (!reference) throw new CliError('which dataset? give its slug (see `sluice datasets list`)', EXIT.usage);
    const client = cli.client();
    const dataset = await findDataset(client, reference);
    const documents = await allPages(async (after) => {
      const page = (await client.query(DatasetDocument, { id: dataset.id, first: 100, after })).dataset?.documents;
      if (!page) throw new CliError(`dataset ${dataset.slug} is gone`, EXIT.failed);
      return page;
    });
    const rows = documents.map((document) => [document.title, document.sourceKey, document.mimeType, megabytes(document.bytes), String(document.chunkCount), document.createdAt]);
    cli.print(table(['TITLE', 'SOURCE', 'TYPE', 'SIZE', 'CHUNKS', 'ADDED'], rows), documents);
  },
};
