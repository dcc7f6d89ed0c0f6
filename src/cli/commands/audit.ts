/** `sluice audit tail`: the tenant's latest audit events, and with --follow the new ones live. */
import { AuditEventsDocument, AuditEventsLiveDocument, type AuditEventFieldsFragment } from '../../sdk/index.js';
import { CliError, EXIT, type Cli, type Command } from '../cli.js';

export const auditTail: Command = {
  name: 'audit tail',
  summary: "print the tenant's latest audit events (--follow: and new ones live)",
  usage: '[-n <count>] [--follow] [--action <action>]',
  help: `Prints the last -n (default 20) audit events of your tenant, oldest first, one per line:
time, action, outcome, actor, request id. --follow keeps printing new events as they are
written until interrupted. --action filters by action (e.g. auth.login). With --json, one JSON
object per line. Needs ADMIN.`,
  options: { lines: { type: 'string', short: 'n' }, follow: { type: 'boolean', short: 'f' }, action: { type: 'string' } },
  async run(cli, _args, values) {
    const count = Number(values.lines ?? 20);
    if (!Number.isInteger(count) || count < 0 || count > 100) throw new CliError('-n must be 0 to 100', EXIT.usage);
    const action = values.action as string | undefined;
    const client = cli.client();
    const { auditEvents } = await client.query(AuditEventsDocument, { first: count, filter: action ? { action } : undefined });
    for (const event of [...auditEvents.events].reverse()) printEvent(cli, event);
    if (!values.follow) return;
    const live = client.subscribe(AuditEventsLiveDocument);
    const stop = () => void live.return?.();
    process.once('SIGINT', stop);
    try {
      for await (const { auditEvents: event } of live) if (!action || event.action === action) printEvent(cli, event);
    } finally {
      process.off('SIGINT', stop);
    }
  },
};

function printEvent(cli: Cli, event: AuditEventFieldsFragment): void {
  const actor = event.actorEmail ?? event.actorId ?? '-';
  cli.print(`${event.createdAt}  ${event.action.padEnd(18)} ${event.outcome.padEnd(12)} ${event.actorKind.toLowerCase()}:${actor}${event.requestId ? `  ${event.requestId}` : ''}`, event);
}
