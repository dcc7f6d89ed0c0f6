/** `sluice endpoints create|publish|unpublish|list|show|delete` and `sluice catalog`. */
import {
  CatalogDocument,
  CreateEndpointDocument,
  DeleteEndpointDocument,
  EndpointsDocument,
  UpdateEndpointDocument,
  type EndpointFieldsFragment,
  type RetrievalMode,
  type SluiceClient,
} from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { findDataset } from './datasets.js';
import { allModels, allPages, confirmed, findEndpoint, findModel, numberOption } from './lookup.js';

const MODES: readonly RetrievalMode[] = ['KEYWORD', 'SEMANTIC', 'HYBRID'];

export const endpointsCreate: Command = {
  name: 'endpoints create',
  summary: 'create an endpoint: a model answering over datasets',
  usage: '<slug> --dataset <slug>[,<slug>…] [--model <name>] [--name <name>] [--description <text>] [--top-k <n>] [--min-score <x>] [--per-document <n>] [--mode keyword|semantic|hybrid] [--publish] [--listed] [--anonymous]',
  help: `Creates an endpoint that answers with a model over one or more datasets (by slug or id).
--model names one of your models; without it, your only chat model is used. --name defaults to
the slug. The endpoint starts unpublished (only your tenant may ask it) unless --publish;
--listed shows it in the catalog, --anonymous lets callers without a credential ask it (both
need --publish). Needs ADMIN.`,
  options: {
    dataset: { type: 'string' },
    model: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    'top-k': { type: 'string' },
    'min-score': { type: 'string' },
    'per-document': { type: 'string' },
    mode: { type: 'string' },
    publish: { type: 'boolean' },
    listed: { type: 'boolean' },
    anonymous: { type: 'boolean' },
  },
  async run(cli, args, values) {
    const [slug] = args;
    if (!slug) throw new CliError('give the new endpoint a slug, e.g. `sluice endpoints create handbook --dataset handbook`', EXIT.usage);
    const datasetRefs = String(values.dataset ?? '').split(',').map((ref) => ref.trim()).filter(Boolean);
    if (datasetRefs.length === 0) throw new CliError('--dataset is required: the datasets it answers from', EXIT.usage);
    const mode = values.mode === undefined ? undefined : (String(values.mode).toUpperCase() as RetrievalMode);
    if (mode && !MODES.includes(mode)) throw new CliError('--mode must be keyword, semantic or hybrid', EXIT.usage);
    const retrieval = {
      topK: numberOption(values['top-k'], '--top-k', { integer: true, min: 1 }),
      minScore: numberOption(values['min-score'], '--min-score'),
      passagesPerDocument: numberOption(values['per-document'], '--per-document', { integer: true, min: 1 }),
      mode,
    };
    const client = cli.client();
    const model = values.model ? await findModel(client, String(values.model)) : await onlyChatModel(client);
    const datasets = await Promise.all(datasetRefs.map((ref) => findDataset(client, ref)));
    const input = {
      slug,
      name: (values.name as string | undefined) ?? slug,
      description: values.description as string | undefined,
      modelId: model.id,
      datasetIds: datasets.map((dataset) => dataset.id),
      retrieval,
      published: Boolean(values.publish),
      listed: values.listed ? true : undefined,
      allowAnonymous: values.anonymous ? true : undefined,
    };
    const { createEndpoint } = await client.mutate(CreateEndpointDocument, { input });
    cli.print(`Created endpoint ${createEndpoint.reference} (${createEndpoint.published ? 'published' : 'unpublished'}), model ${createEndpoint.model.name}, datasets ${createEndpoint.datasets.map((dataset) => dataset.slug).join(', ')}`, createEndpoint);
  },
};

async function onlyChatModel(client: SluiceClient) {
  const chat = (await allModels(client)).filter((model) => model.kind === 'CHAT');
  if (chat.length === 1) return chat[0]!;
  throw new CliError(chat.length === 0 ? 'no chat model yet: create one (`sluice models create`) or run `sluice init`' : `which model? --model one of ${chat.map((model) => model.name).join(', ')}`, EXIT.usage);
}

export const endpointsPublish: Command = {
  name: 'endpoints publish',
  summary: 'publish an endpoint to other tenants (--listed: in the catalog too)',
  usage: '<slug> [--listed] [--anonymous]',
  help: `Publishes an endpoint: authenticated callers of other tenants may ask it, under its
policies. --listed also shows it in the catalog; --anonymous lets callers without a credential
ask it (under the per-address limit). Needs ADMIN.`,
  options: { listed: { type: 'boolean' }, anonymous: { type: 'boolean' } },
  async run(cli, args, values) {
    const endpoint = await endpointArgument(cli.client(), args);
    const input = { published: true, listed: values.listed ? true : undefined, allowAnonymous: values.anonymous ? true : undefined };
    const { updateEndpoint } = await cli.client().mutate(UpdateEndpointDocument, { id: endpoint.id, input });
    cli.print(`Published ${updateEndpoint.reference}${updateEndpoint.listed ? ', listed in the catalog' : ''}`, updateEndpoint);
  },
};

export const endpointsUnpublish: Command = {
  name: 'endpoints unpublish',
  summary: 'only your tenant may ask the endpoint again (unlists it)',
  usage: '<slug>',
  help: 'Unpublishes an endpoint: only members of your tenant may ask it, and it leaves the catalog. Needs ADMIN.',
  async run(cli, args) {
    const endpoint = await endpointArgument(cli.client(), args);
    const { updateEndpoint } = await cli.client().mutate(UpdateEndpointDocument, { id: endpoint.id, input: { published: false } });
    cli.print(`Unpublished ${updateEndpoint.reference}`, updateEndpoint);
  },
};

export const endpointsList: Command = {
  name: 'endpoints list',
  summary: "list your tenant's endpoints",
  usage: '',
  help: 'Lists the endpoints of your tenant: address, model, datasets, retrieval mode, whether published and listed, health.',
  async run(cli) {
    const client = cli.client();
    const endpoints = await allPages(async (after) => (await client.query(EndpointsDocument, { first: 100, after })).endpoints);
    const rows = endpoints.map((endpoint) => [
      endpoint.reference,
      endpoint.name,
      endpoint.model.name,
      endpoint.datasets.map((dataset) => dataset.slug).join(','),
      retrievalMode(endpoint),
      endpoint.published ? (endpoint.listed ? 'listed' : 'published') : 'private',
      endpoint.health?.status ?? '-',
    ]);
    cli.print(table(['ADDRESS', 'NAME', 'MODEL', 'DATASETS', 'MODE', 'VISIBILITY', 'HEALTH'], rows), endpoints);
  },
};

export const endpointsShow: Command = {
  name: 'endpoints show',
  summary: 'one endpoint: model, datasets, retrieval (mode and engine), policies, health',
  usage: '<slug>',
  help: 'Shows one endpoint of your tenant in full.',
  async run(cli, args) {
    const endpoint = await endpointArgument(cli.client(), args);
    cli.print(describeEndpoint(endpoint), endpoint);
  },
};

function describeEndpoint(endpoint: EndpointFieldsFragment): string {
  const health = endpoint.health ? `${endpoint.health.status} (checked ${endpoint.health.lastCheckedAt}${endpoint.health.lastError ? `: ${endpoint.health.lastError}` : ''})` : 'not checked yet';
  return [
    `${endpoint.reference}  ${endpoint.name}`,
    ...(endpoint.description ? [`  ${endpoint.description}`] : []),
    `  visibility  ${endpoint.published ? `published${endpoint.listed ? ', listed in the catalog' : ''}` : 'unpublished (your tenant only)'}`,
    `  model       ${endpoint.model.name} (${endpoint.model.type})`,
    `  datasets    ${endpoint.datasets.map((dataset) => dataset.slug).join(', ') || '-'}`,
    `  retrieval   ${retrievalMode(endpoint)} (${endpoint.retrieval.engine}), top ${endpoint.retrieval.topK}${endpoint.retrieval.minScore != null ? `, min score ${endpoint.retrieval.minScore}` : ''}${endpoint.retrieval.passagesPerDocument != null ? `, ${endpoint.retrieval.passagesPerDocument} per document` : ''}`,
    `  policies    ${endpoint.policies.map((policy) => `${policy.type}${policy.enabled ? '' : ' (disabled)'}`).join(', ') || '-'}`,
    `  health      ${health}`,
    `  id          ${endpoint.id}`,
  ].join('\n');
}

/** `keyword`, `semantic` or `hybrid`, as `--mode` takes it. */
function retrievalMode(endpoint: EndpointFieldsFragment): string {
  return endpoint.retrieval.mode.toLowerCase();
}

export const endpointsDelete: Command = {
  name: 'endpoints delete',
  summary: 'delete an endpoint (asks first unless --yes)',
  usage: '<slug> [--yes]',
  help: `Deletes an endpoint; its usage records and decisions stay. At a terminal it asks you to
type the slug; elsewhere it needs --yes. Needs ADMIN.`,
  options: { yes: { type: 'boolean', short: 'y' } },
  async run(cli, args, values) {
    const endpoint = await endpointArgument(cli.client(), args);
    await confirmed(cli, values.yes, `endpoint ${endpoint.reference}`, endpoint.slug);
    await cli.client().mutate(DeleteEndpointDocument, { id: endpoint.id });
    cli.print(`Deleted endpoint ${endpoint.reference}`, { id: endpoint.id, reference: endpoint.reference, deleted: true });
  },
};

async function endpointArgument(client: SluiceClient, args: string[]): Promise<EndpointFieldsFragment> {
  const [reference] = args;
  if (!reference) throw new CliError('which endpoint? give its slug (see `sluice endpoints list`)', EXIT.usage);
  return findEndpoint(client, reference);
}

export const catalog: Command = {
  name: 'catalog',
  summary: 'the listed endpoints of every tenant (no login needed)',
  usage: '[<search text>]',
  help: `Lists the endpoints tenants have listed in the catalog: address, name, model type,
retrieval mode and whether a credential is needed. Words after the command search names,
descriptions and addresses.`,
  async run(cli, args) {
    const search = args.join(' ').trim() || undefined;
    const client = cli.client();
    const entries = await allPages(async (after) => (await client.query(CatalogDocument, { search, first: 100, after })).catalog);
    const rows = entries.map((entry) => [entry.address, entry.name, entry.modelKind, entry.retrievalMode, entry.access.credentialRequired ? 'yes' : 'no', String(entry.datasets.documentCount)]);
    cli.print(table(['ADDRESS', 'NAME', 'MODEL', 'RETRIEVAL', 'CREDENTIAL', 'DOCUMENTS'], rows), entries);
  },
};
