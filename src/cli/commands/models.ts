/** `sluice models create|list|test|types`: what endpoints answer with. */
import { CreateModelDocument, ModelTypesDocument, TestModelDocument, type ModelFieldsFragment } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { readAllStdin } from '../prompt.js';
import { table } from '../table.js';
import { allModels, findModel, jsonObjectOption, mayReadConfiguration, numberOption } from './lookup.js';

export const modelsCreate: Command = {
  name: 'models create',
  summary: 'add a model (extractive, openai-compatible, openai-compatible-embeddings)',
  usage: '<name> --type <type> [--config <json>] [--api-key-stdin] [--prompt-micros-per-1k <n>] [--completion-micros-per-1k <n>]',
  help: `Adds a model to your tenant. --type is one of \`sluice models types\`: extractive (built in,
no network), openai-compatible (chat) or openai-compatible-embeddings. --config is its JSON
configuration, e.g. '{"baseUrl": "https://api.example.com/v1", "model": "small"}'. The provider's
API key is read from stdin with --api-key-stdin (never from an argument, which the shell's
history and the process list would keep); it is stored encrypted and never shown again.
Prices are in micro-units per 1 000 tokens. Needs ADMIN.`,
  options: {
    type: { type: 'string' },
    config: { type: 'string' },
    'api-key-stdin': { type: 'boolean' },
    'prompt-micros-per-1k': { type: 'string' },
    'completion-micros-per-1k': { type: 'string' },
  },
  async run(cli, args, values) {
    const [name] = args;
    if (!name) throw new CliError('give the model a name, e.g. `sluice models create built-in --type extractive`', EXIT.usage);
    if (!values.type) throw new CliError('--type is required (see `sluice models types`)', EXIT.usage);
    const apiKey = values['api-key-stdin'] ? (await readAllStdin(cli.stdin)).trim() : undefined;
    if (values['api-key-stdin'] && !apiKey) throw new CliError('no API key on stdin', EXIT.usage);
    const input = {
      name,
      type: String(values.type),
      config: jsonObjectOption(values.config, '--config'),
      apiKey,
      promptMicrosPer1k: numberOption(values['prompt-micros-per-1k'], '--prompt-micros-per-1k', { integer: true, min: 0 }),
      completionMicrosPer1k: numberOption(values['completion-micros-per-1k'], '--completion-micros-per-1k', { integer: true, min: 0 }),
    };
    const { createModel } = await cli.client().mutate(CreateModelDocument, { input });
    cli.print(`Created model ${createModel.name} (${createModel.type}, ${createModel.kind.toLowerCase()})`, createModel);
  },
};

export const modelsList: Command = {
  name: 'models list',
  summary: "list your tenant's models",
  usage: '',
  help: "Lists your tenant's models, oldest first: name, type, kind, whether an API key is stored, prices and health (never the key). With ADMIN (an API key: the admin scope), the key's last four characters too, and --json adds each configuration.",
  async run(cli) {
    const client = cli.client();
    const models = await allModels(client, await mayReadConfiguration(client));
    cli.print(table(['NAME', 'TYPE', 'KIND', 'API KEY', 'PRICE/1K (PROMPT, COMPLETION)', 'HEALTH'], models.map(modelRow)), models);
  },
};

function modelRow(model: ModelFieldsFragment): string[] {
  return [
    model.name,
    model.type,
    model.kind.toLowerCase(),
    model.apiKeySet ? (model.apiKeyLast4 ? `…${model.apiKeyLast4}` : 'set') : '-',
    `${model.promptMicrosPer1k}, ${model.completionMicrosPer1k}`,
    model.health ? `${model.health.status}${model.health.lastError ? `: ${model.health.lastError}` : ''}` : '-',
  ];
}

export const modelsTest: Command = {
  name: 'models test',
  summary: 'call a model now: does it answer, and how fast',
  usage: '<name>',
  help: `Tests one of your models (by name or id) with the cheapest real request through its own
client, egress guard and stored key: one token of a chat model, one word embedded by an
embeddings model (extractive calls no server and always answers). Prints how long it took, or
why it failed, and exits 1 when it failed. Needs ADMIN.`,
  async run(cli, args) {
    const [reference] = args;
    if (!reference) throw new CliError('which model? give its name (see `sluice models list`)', EXIT.usage);
    const model = await findModel(cli.client(), reference);
    const { testModel } = await cli.client().mutate(TestModelDocument, { id: model.id });
    const result = { name: model.name, ...testModel };
    if (testModel.ok) {
      cli.print(`${model.name} answered in ${testModel.latencyMs} ms`, result);
      return EXIT.ok;
    }
    cli.print(`${model.name} failed: ${testModel.error ?? 'no reason given'}`, result);
    return EXIT.failed;
  },
};

export const modelsTypes: Command = {
  name: 'models types',
  summary: 'the model types this server knows',
  usage: '',
  help: 'Lists the model types `sluice models create --type` takes, with what each is for.',
  async run(cli) {
    const { modelTypes } = await cli.client().query(ModelTypesDocument);
    cli.print(table(['TYPE', 'KIND', 'API KEY', 'DESCRIPTION'], modelTypes.map((type) => [type.name, type.kind.toLowerCase(), type.acceptsApiKey ? 'yes' : 'no', type.description])), modelTypes);
  },
};
