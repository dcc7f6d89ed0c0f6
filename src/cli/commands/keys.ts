/** `sluice keys create|list|revoke`: the signed-in tenant's API keys. */
import { ApiKeysDocument, CreateApiKeyDocument, RevokeApiKeyDocument, type ApiKeyFieldsFragment, type ApiScope, type SluiceClient } from '../../sdk/index.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { allPages } from './lookup.js';

const SCOPES: readonly ApiScope[] = ['READ', 'WRITE', 'ADMIN'];

export const keysCreate: Command = {
  name: 'keys create',
  summary: 'mint an API key for your tenant (shown once)',
  usage: '--name <name> [--scopes read,write,admin] [--expires-in-days <n>]',
  help: `Creates an API key and prints its secret, which is shown only this once: keep it in a
secret store. --scopes defaults to read. Without --expires-in-days the key lasts the tenant's
default time (apiKeyDefaultTtlDays). Needs ADMIN.`,
  options: { name: { type: 'string' }, scopes: { type: 'string' }, 'expires-in-days': { type: 'string' } },
  async run(cli, _args, values) {
    const name = values.name as string | undefined;
    if (!name) throw new CliError('--name is required', EXIT.usage);
    const scopes = ((values.scopes as string | undefined) ?? 'read').split(',').map((scope) => scope.trim().toUpperCase());
    const unknown = scopes.filter((scope) => !SCOPES.includes(scope as ApiScope));
    if (unknown.length > 0) throw new CliError(`unknown scope ${unknown.join(', ')}: use read, write, admin`, EXIT.usage);
    let expiresAt: string | undefined;
    if (values['expires-in-days'] !== undefined) {
      const days = Number(values['expires-in-days']);
      if (!Number.isInteger(days) || days < 1) throw new CliError('--expires-in-days must be a whole number of days, 1 or more', EXIT.usage);
      expiresAt = new Date(Date.now() + days * 86_400_000).toISOString();
    }
    const { createApiKey } = await cli.client().mutate(CreateApiKeyDocument, { input: { name, scopes: scopes as ApiScope[], expiresAt } });
    const { apiKey } = createApiKey;
    // Every figure here is the server's: cleaned with the name by note, not the name alone.
    if (!cli.json) cli.note(`Created API key ${apiKey.name} (${apiKey.id}), scopes ${apiKey.scopes.join(', ')}, expires ${apiKey.expiresAt ?? 'never'}. The secret, shown once:`);
    cli.print(createApiKey.secret, { secret: createApiKey.secret, ...apiKey });
  },
};

export const keysList: Command = {
  name: 'keys list',
  summary: "list your tenant's API keys",
  usage: '[--all]',
  help: 'Lists the API keys of your tenant (never their secrets). Revoked keys only with --all.',
  options: { all: { type: 'boolean' } },
  async run(cli, _args, values) {
    const keys = await allKeys(cli.client());
    const shown = values.all ? keys : keys.filter((key) => !key.revokedAt);
    const rows = shown.map((key) => [key.id, key.name, `${key.prefix}…`, key.scopes.join(','), key.expiresAt ?? 'never', key.lastUsedAt ?? '-', key.revokedAt ? 'revoked' : 'active']);
    cli.print(table(['ID', 'NAME', 'PREFIX', 'SCOPES', 'EXPIRES', 'LAST USED', 'STATE'], rows), shown);
  },
};

export const keysRevoke: Command = {
  name: 'keys revoke',
  summary: 'revoke an API key at once (by name, prefix or id)',
  usage: '<name, prefix or id>',
  help: `Revokes an API key: it stops working at once. Name it by its name, its prefix (as
\`sluice keys list\` shows it, with or without the …) or its id. A name or prefix that fits more
than one active key is refused: give the id then.`,
  async run(cli, args) {
    const [reference] = args;
    if (!reference) throw new CliError('which key? give its name, prefix or id (see `sluice keys list`)', EXIT.usage);
    const key = findKey(await allKeys(cli.client()), reference);
    const { revokeApiKey } = await cli.client().mutate(RevokeApiKeyDocument, { id: key.id });
    cli.print(`Revoked API key ${revokeApiKey.name} (${revokeApiKey.id})`, revokeApiKey);
  },
};

async function allKeys(client: SluiceClient): Promise<ApiKeyFieldsFragment[]> {
  return allPages(async (after) => {
    const page = (await client.query(ApiKeysDocument, { first: 100, after })).viewer.tenant?.apiKeys;
    if (!page) throw new CliError('API keys belong to a tenant: sign in as a tenant member', EXIT.failed);
    return page;
  });
}

/** The key an id names, else the one active key a name or prefix names. */
function findKey(keys: ApiKeyFieldsFragment[], reference: string): ApiKeyFieldsFragment {
  const byId = keys.find((key) => key.id === reference);
  if (byId) return byId;
  const prefix = reference.replace(/…$/, '');
  const active = keys.filter((key) => !key.revokedAt);
  const byName = active.filter((key) => key.name === reference);
  const matches = byName.length > 0 ? byName : active.filter((key) => prefix.length >= 6 && key.prefix.startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliError(`no active key "${reference}" in your tenant (see \`sluice keys list\`)`, EXIT.failed);
  throw new CliError(`"${reference}" fits ${matches.length} active keys (${matches.map((key) => key.id).join(', ')}): give the id`, EXIT.usage);
}
