import { Migration } from '@mikro-orm/migrations';
import { definerFunctionSql } from '../src/db/rls.js';
import { editedSql } from './function-edits.js';
import { APPEND_AUDIT_EVENTS } from './Migration20261124105804_audit_trail.js';
import { APPEND_CHECKED } from './Migration20261207100000_audit_trust_boundary.js';

const NAME = 'Migration20261207120000_audit_owner_actions';

/**
 * Hand-written. What the app role may append through `append_audit_events` narrows further
 * (left open by the audit review of stop 55):
 *
 * 1. The trail's own events (`audit.*`: retention's cut records, chain rewrites) come from the
 *    database owner alone (retention and migrations run as the owner). The app role could append
 *    an `audit.retention_applied` naming any cut; the verifier reports a record naming a cut the
 *    chain does not show, but the app role has no business writing one at all.
 * 2. An event's time may not lie ahead of the database's clock by more than 10 minutes (clock
 *    skew between the API's hosts and the database). Retention keeps a chain from its first
 *    unexpired event on, so one event dated years ahead, appended early in a chain, kept every
 *    later event of that chain forever. A writer whose clock runs further ahead loses those
 *    events, logged as unrecordable (class 22, which the writer drops rather than retries).
 *
 * "The owner" is any role that is a member of the role owning audit_events (a superuser too).
 */
const APPEND_OWNER_ACTIONS = {
  signature: APPEND_AUDIT_EVENTS.signature,
  definition: editedSql(
    APPEND_CHECKED.definition,
    [
      [
        "at := (event->'payload'->>'at')::timestamptz;",
        `at := (event->'payload'->>'at')::timestamptz;
               if not pg_has_role(session_user, (select c.relowner from pg_class c where c.oid = 'audit_events'::regclass), 'member') then
                 if coalesce(event->'payload'->>'action', '') like 'audit.%' then
                   raise exception 'audit event %: audit.* events are written by the database owner only', event->'payload'->>'id' using errcode = '42501';
                 end if;
                 if at > now() + interval '10 minutes' then
                   raise exception 'audit event %: its time % lies ahead of the database clock', event->'payload'->>'id', event->'payload'->>'at' using errcode = '22008';
                 end if;
               end if;`,
      ],
    ],
    NAME,
  ),
};

export class Migration20261207120000_audit_owner_actions extends Migration {
  override async up(): Promise<void> {
    for (const statement of definerFunctionSql(APPEND_OWNER_ACTIONS.signature, APPEND_OWNER_ACTIONS.definition)) this.addSql(statement);
  }

  override async down(): Promise<void> {
    for (const statement of definerFunctionSql(APPEND_CHECKED.signature, APPEND_CHECKED.definition)) this.addSql(statement);
  }
}
