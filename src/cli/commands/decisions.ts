/** `sluice decisions`: the decision log, newest last: why a caller was refused. */
import { LatestPolicyDecisionsDocument, type PolicyDecisionOutcome } from '../../sdk/index.js';
import { actorNames } from '../actor-names.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { table } from '../table.js';
import { findEndpoint, numberOption, sinceOption } from './lookup.js';

export const decisions: Command = {
  name: 'decisions',
  summary: 'why was a caller refused: the decision log, filterable',
  usage: '[--endpoint <slug>] [--denied | --allowed] [--caller <id>] [--since <when>] [--until <when>] [-n <count>]',
  help: `Prints the latest -n (default 20, at most 100) evaluations of your endpoints' policies,
oldest of them first: time, endpoint, caller, decision, and for a refusal the policy, its rule
and the reason. --denied shows refusals only (--allowed the rest); --endpoint one endpoint;
--caller one caller id (as shown with --json: a user or API key id); --since and --until take a
date or a duration back from now (30m, 24h, 7d). Needs ADMIN.`,
  options: {
    endpoint: { type: 'string' },
    denied: { type: 'boolean' },
    allowed: { type: 'boolean' },
    caller: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    lines: { type: 'string', short: 'n' },
  },
  async run(cli, _args, values) {
    if (values.denied && values.allowed) throw new CliError('--denied or --allowed, not both', EXIT.usage);
    const last = numberOption(values.lines, '-n', { integer: true, min: 1 }) ?? 20;
    if (last > 100) throw new CliError('-n must be 1 to 100', EXIT.usage);
    const decision: PolicyDecisionOutcome | undefined = values.denied ? 'DENY' : values.allowed ? 'ALLOW' : undefined;
    const client = cli.client();
    const endpointId = values.endpoint ? (await findEndpoint(client, String(values.endpoint))).id : undefined;
    const filter = { decision, endpointId, callerId: values.caller as string | undefined, from: sinceOption(values.since, '--since'), to: sinceOption(values.until, '--until') };
    const [{ policyDecisions }, nameOf] = await Promise.all([client.query(LatestPolicyDecisionsDocument, { filter, last }), actorNames(client)]);
    const rows = policyDecisions.edges.map(({ node }) => ({ ...node, caller: nameOf(node.callerKind, node.callerId) }));
    const text = table(
      ['TIME', 'ENDPOINT', 'CALLER', 'DECISION', 'POLICY', 'RULE', 'REASON'],
      rows.map((row) => [row.createdAt, row.endpointSlug, row.caller, row.decision, row.policyType ?? '-', row.rule ?? '-', [row.reasonCode, row.reason].filter(Boolean).join(': ') || '-']),
    );
    cli.print(text, rows);
  },
};
