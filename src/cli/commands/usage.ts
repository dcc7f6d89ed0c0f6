/** `sluice usage`: queries, tokens, cost and denials, by endpoint, caller or day; or your own on one endpoint. */
import { MyUsageDocument, UsageDocument, type UsageGrouping } from '../../sdk/index.js';
import { actorNames } from '../actor-names.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { sinceOption } from './lookup.js';

const GROUPINGS: Record<string, UsageGrouping> = { endpoint: 'ENDPOINT', caller: 'CALLER', day: 'DAY' };

export const usage: Command = {
  name: 'usage',
  summary: "your tenant's queries, tokens and cost; or your own use of an endpoint",
  usage: '[--by endpoint|caller|day] [--since <when>] [--until <when>] | --endpoint <tenant/endpoint>',
  help: `Without --endpoint: your tenant's usage (needs ADMIN), one row per endpoint (default),
caller or day: queries, denials, tokens, cost by the models' prices and the charge by the
accounting policies (micro-units). --since and --until take a date or a duration back from now
(30m, 24h, 7d); the default is all that is kept.
With --endpoint tenant/endpoint: your own use of that endpoint (any tenant's you may ask) and
what is left of each of its limits.`,
  options: { by: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, endpoint: { type: 'string' } },
  async run(cli, _args, values) {
    const range = { from: sinceOption(values.since, '--since'), to: sinceOption(values.until, '--until') };
    const client = cli.client();
    if (values.endpoint) {
      if (values.by) throw new CliError('--by is for the tenant\'s usage, not with --endpoint', EXIT.usage);
      const { myUsage } = await client.query(MyUsageDocument, { endpoint: String(values.endpoint), range });
      const limits = myUsage.allowances.map((allowance) => [allowance.policyType, allowance.unit, String(allowance.used), String(allowance.limit), String(allowance.remaining), `${allowance.periodSeconds} s`, allowance.freesAt ?? '-']);
      cli.print(
        [`${values.endpoint}: ${myUsage.queries} queries, ${myUsage.denials} denied, ${myUsage.totalTokens} tokens, cost ${myUsage.costMicros}, charged ${myUsage.chargedMicros}`, '', table(['POLICY', 'UNIT', 'USED', 'LIMIT', 'LEFT', 'PERIOD', 'FREES AT'], limits)].join('\n'),
        myUsage,
      );
      return;
    }
    const groupBy = GROUPINGS[String(values.by ?? 'endpoint').toLowerCase()];
    if (!groupBy) throw new CliError('--by must be endpoint, caller or day', EXIT.usage);
    const [{ usage: rows }, nameOf] = await Promise.all([client.query(UsageDocument, { groupBy, range }), groupBy === 'CALLER' ? actorNames(client) : undefined]);
    const keyOf = (key: string) => (nameOf && key.includes(':') ? nameOf(key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)) : key);
    const text = table(
      [groupBy, 'QUERIES', 'DENIALS', 'PROMPT TOKENS', 'COMPLETION TOKENS', 'COST', 'CHARGED'],
      rows.map((row) => [keyOf(row.key), String(row.queries), String(row.denials), String(row.promptTokens), String(row.completionTokens), String(row.costMicros), String(row.chargedMicros)]),
    );
    cli.print(text, rows);
  },
};
