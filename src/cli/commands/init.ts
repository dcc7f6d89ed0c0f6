/**
 * `sluice init`: what a new tenant needs to answer its first question. The built-in extractive
 * model (no network, no key), a dataset and an endpoint over it; each made only if missing,
 * so running it again changes nothing.
 */
import { CreateDatasetDocument, CreateEndpointDocument, CreateModelDocument, DatasetDocument, EndpointDocument, ViewerDocument, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { allModels } from './lookup.js';

const BUILT_IN_MODEL = 'built-in';

export const init: Command = {
  name: 'init',
  summary: 'set up a first endpoint: the built-in model, a dataset, an endpoint (idempotent)',
  usage: '[--dataset <slug>] [--endpoint <slug>]',
  help: `Makes what your tenant needs to answer questions, each only if it is missing: the built-in
extractive model (named "${BUILT_IN_MODEL}": it answers from the passages themselves, with no
model server or key), a dataset (--dataset, default "docs") and an unpublished endpoint over it
with that model (--endpoint, default the dataset's slug). Then ingest files into the dataset and
ask the endpoint: the last lines say how. Running it again changes nothing. Needs ADMIN.`,
  options: { dataset: { type: 'string' }, endpoint: { type: 'string' } },
  async run(cli, _args, values) {
    const datasetSlug = (values.dataset as string | undefined) ?? 'docs';
    const endpointSlug = (values.endpoint as string | undefined) ?? datasetSlug;
    const client = cli.client();
    const { viewer } = await client.query(ViewerDocument);
    if (!viewer.tenant) throw new CliError(`Not logged in to a tenant on ${cli.url} (run \`sluice login\`)`, EXIT.unauthenticated);
    const steps: { made: boolean; what: string }[] = [];

    const model = await ensureModel(client, steps);
    const existing = (await client.query(DatasetDocument, { slug: datasetSlug, first: 0 })).dataset;
    const dataset = existing ?? (await client.mutate(CreateDatasetDocument, { input: { slug: datasetSlug, name: datasetSlug } })).createDataset;
    steps.push({ made: !existing, what: `dataset ${dataset.slug}` });

    let endpoint = (await client.query(EndpointDocument, { slug: endpointSlug })).endpoint;
    steps.push({ made: !endpoint, what: `endpoint ${endpoint?.reference ?? `${viewer.tenant.slug}/${endpointSlug}`}` });
    endpoint ??= (
      await client.mutate(CreateEndpointDocument, { input: { slug: endpointSlug, name: endpointSlug, modelId: model.id, datasetIds: [dataset.id], published: false } })
    ).createEndpoint;

    const lines = steps.map((step) => `${step.made ? 'Created' : 'Already there:'} ${step.what}`);
    lines.push('', 'Next:', `  sluice ingest ${dataset.slug} <files or folders>`, `  sluice query ${endpoint.reference} "<your question>"`);
    cli.print(lines.join('\n'), {
      tenant: viewer.tenant.slug,
      model: { id: model.id, name: model.name },
      dataset: { id: dataset.id, slug: dataset.slug },
      endpoint: { id: endpoint.id, reference: endpoint.reference },
      created: steps.filter((step) => step.made).map((step) => step.what),
    });
  },
};

/** The tenant's built-in model: the one of that name, else any extractive one, else a new one. */
async function ensureModel(client: SluiceClient, steps: { made: boolean; what: string }[]) {
  const models = await allModels(client);
  const found = models.find((model) => model.name === BUILT_IN_MODEL && model.type === 'extractive') ?? models.find((model) => model.type === 'extractive');
  if (found) {
    steps.push({ made: false, what: `model ${found.name} (extractive)` });
    return found;
  }
  const { createModel } = await client.mutate(CreateModelDocument, { input: { name: BUILT_IN_MODEL, type: 'extractive' } });
  steps.push({ made: true, what: `model ${createModel.name} (extractive)` });
  return createModel;
}
