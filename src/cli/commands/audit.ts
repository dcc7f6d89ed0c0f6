/** `sluice audit tail`: the tenant's latest audit events, and with --follow the new ones live. */
import { AuditEventsDocument, AuditEventsLiveDocument, type AuditEventFieldsFragment } from '../../sdk/index.js';
import { actorNames, type ActorName } from '../actor-names.js';
import { CliError, EXIT, type Command } from '../cli.js';
import { columns } from '../table.js';

const HEADERS = ['TIME', 'ACTION', 'OUTCOME', 'ACTOR', 'REQUEST'];
/** Room for the usual values, so followed events line up with the first page. */
const MIN_WIDTHS = [24, 20, 8, 24, 0];

export const auditTail: Command = {
  name: 'audit tail',
  summary: "print the tenant's latest audit events (--follow: and new ones live)",
  usage: '[-n <count>] [--follow] [--action <action>]',
  help: `Prints the last -n (default 20) audit events of your tenant, oldest first, as a table:
time, action, outcome, actor (a member's email, an API key's name and prefix), request id.
--follow keeps printing new events as they are written until interrupted. --action filters by
action (e.g. auth.login, or config.* for a prefix). With --json, one JSON object per line, with
the actor's readable name as "actor". Needs ADMIN.`,
  options: { lines: { type: 'string', short: 'n' }, follow: { type: 'boolean', short: 'f' }, action: { type: 'string' } },
  async run(cli, _args, values) {
    const count = Number(values.lines ?? 20);
    if (!Number.isInteger(count) || count < 0 || count > 100) throw new CliError('-n must be 0 to 100', EXIT.usage);
    const action = values.action as string | undefined;
    const client = cli.client();
    const filter = action ? { action } : undefined;
    const [{ auditEvents }, nameOf] = await Promise.all([client.query(AuditEventsDocument, { first: count, filter }), actorNames(client)]);
    const events = [...auditEvents.events].reverse();
    const layout = columns(HEADERS, events.map((event) => cells(event, nameOf)), MIN_WIDTHS);
    const show = (event: AuditEventFieldsFragment) => cli.print(layout.line(cells(event, nameOf)), { ...event, actor: nameOf(event.actorKind, event.actorId, event.actorEmail) });
    if (!cli.json && (events.length > 0 || values.follow)) cli.print(layout.header, undefined);
    events.forEach(show);
    if (!values.follow) {
      if (events.length === 0 && !cli.json) cli.print('(no events)', undefined);
      return;
    }
    // The server applies the filter to followed events too.
    const live = client.subscribe(AuditEventsLiveDocument, { filter });
    const stop = () => void live.return?.();
    process.once('SIGINT', stop);
    try {
      for await (const { auditEvents: event } of live) show(event);
    } finally {
      process.off('SIGINT', stop);
    }
  },
};

function cells(event: AuditEventFieldsFragment, nameOf: ActorName): string[] {
  return [event.createdAt, event.action, event.outcome, nameOf(event.actorKind, event.actorId, event.actorEmail), event.requestId ?? '-'];
}
