/** `sluice policies create|list|edit|delete|types`: who may ask an endpoint, how often, at what cost. */
import { CreatePolicyDocument, DeletePolicyDocument, EndpointsWithPoliciesDocument, PolicyTypesDocument, UpdatePolicyDocument, type PolicyFieldsFragment } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { allPages, findEndpoint, jsonObjectOption, mayReadConfiguration } from './lookup.js';

export const policiesCreate: Command = {
  name: 'policies create',
  summary: 'add a policy to an endpoint',
  usage: '<endpoint> --type <type> --config <json> [--disabled]',
  help: `Adds a policy to one of your endpoints (by slug). --type is one of \`sluice policies types\`
(access, rate_limit, accounting, content_guard); --config its JSON configuration, e.g.
'{"requests": 10, "periodSeconds": 60, "per": "CALLER"}' (docs/policies.md). It is enabled at
once unless --disabled. Needs ADMIN.`,
  options: { type: { type: 'string' }, config: { type: 'string' }, disabled: { type: 'boolean' } },
  async run(cli, args, values) {
    const [reference] = args;
    if (!reference) throw new CliError('which endpoint? give its slug', EXIT.usage);
    if (!values.type) throw new CliError('--type is required (see `sluice policies types`)', EXIT.usage);
    const configuration = jsonObjectOption(values.config, '--config');
    if (!configuration) throw new CliError('--config is required: the policy as a JSON object (see `sluice policies types`)', EXIT.usage);
    const endpoint = await findEndpoint(cli.client(), reference);
    const input = { endpointId: endpoint.id, type: String(values.type), configuration, enabled: !values.disabled };
    const { createPolicy } = await cli.client().mutate(CreatePolicyDocument, { input });
    cli.print(`Created ${createPolicy.type} policy ${createPolicy.id} on ${endpoint.reference}${createPolicy.enabled ? '' : ' (disabled)'}`, createPolicy);
  },
};

export const policiesList: Command = {
  name: 'policies list',
  summary: "list the policies of your tenant's endpoints",
  usage: '[<endpoint>]',
  help: 'Lists the policies of one endpoint (by slug), or of all your endpoints: id, type, enabled, and with ADMIN (an API key: the admin scope) the configuration.',
  async run(cli, args) {
    const [reference] = args;
    const client = cli.client();
    const withConfig = await mayReadConfiguration(client);
    const endpoints = await allPages(async (after) => (await client.query(EndpointsWithPoliciesDocument, { first: 25, after, withConfig })).endpoints);
    if (reference && !endpoints.some((endpoint) => endpoint.slug === reference || endpoint.reference === reference)) await findEndpoint(client, reference);
    const policies = endpoints.filter((endpoint) => !reference || endpoint.slug === reference || endpoint.reference === reference).flatMap((endpoint) => endpoint.policies.map((policy) => ({ ...policy, endpoint: { id: endpoint.id, slug: endpoint.slug } })));
    const rows = policies.map((policy) => [policy.id, policy.endpoint.slug, policy.type, policy.enabled ? 'yes' : 'no', policy.configuration ? JSON.stringify(policy.configuration) : '(ADMIN only)']);
    cli.print(table(['ID', 'ENDPOINT', 'TYPE', 'ENABLED', 'CONFIGURATION'], rows), policies);
  },
};

export const policiesEdit: Command = {
  name: 'policies edit',
  summary: "change a policy's configuration, or enable or disable it",
  usage: '<id> [--config <json>] [--enable | --disable]',
  help: `Changes a policy (its id from \`sluice policies list\`). --config replaces the whole
configuration; --enable and --disable switch it on and off. Needs ADMIN.`,
  options: { config: { type: 'string' }, enable: { type: 'boolean' }, disable: { type: 'boolean' } },
  async run(cli, args, values) {
    const [id] = args;
    if (!id) throw new CliError('which policy? give its id (see `sluice policies list`)', EXIT.usage);
    if (values.enable && values.disable) throw new CliError('--enable or --disable, not both', EXIT.usage);
    const configuration = jsonObjectOption(values.config, '--config');
    const enabled = values.enable ? true : values.disable ? false : undefined;
    if (configuration === undefined && enabled === undefined) throw new CliError('nothing to change: give --config, --enable or --disable', EXIT.usage);
    const { updatePolicy } = await cli.client().mutate(UpdatePolicyDocument, { id, input: { configuration, enabled } });
    cli.print(`Updated ${describe(updatePolicy)}`, updatePolicy);
  },
};

export const policiesDelete: Command = {
  name: 'policies delete',
  summary: 'remove a policy (its decisions stay in the log)',
  usage: '<id>',
  help: 'Removes a policy from its endpoint; the decisions it made stay in the decision log. Needs ADMIN.',
  async run(cli, args) {
    const [id] = args;
    if (!id) throw new CliError('which policy? give its id (see `sluice policies list`)', EXIT.usage);
    const { deletePolicy } = await cli.client().mutate(DeletePolicyDocument, { id });
    cli.print(`Deleted policy ${deletePolicy.id}`, { id: deletePolicy.id, deleted: true });
  },
};

export const policiesTypes: Command = {
  name: 'policies types',
  summary: 'the policy types this server knows, in evaluation order',
  usage: '',
  help: 'Lists the policy types with what each does; --json adds the JSON Schema of each configuration.',
  async run(cli) {
    const { policyTypes } = await cli.client().query(PolicyTypesDocument);
    cli.print(table(['TYPE', 'DESCRIPTION'], policyTypes.map((type) => [type.name, type.description])), policyTypes);
  },
};

function describe(policy: PolicyFieldsFragment): string {
  return `${policy.type} policy ${policy.id} on ${policy.endpoint.slug} (${policy.enabled ? 'enabled' : 'disabled'}): ${JSON.stringify(policy.configuration)}`;
}
