import { Migration } from '@mikro-orm/migrations';

/**
 * Hand-written. Retention now appends an `audit.retention_applied` event to each chain it cuts,
 * and the verifier accepts a chain that does not start at its first event only when such an
 * event names that cut (an attacker review: a tenant's oldest events, the settings change that
 * shortened retention among them, went with nothing on the chain saying so). Chains retention
 * cut before then get that record now, so they still verify: where the kept chain starts, the
 * hash it links to, and every event before it as removed (sequence numbers start at 1); the
 * cut-off and the setting in force at the time were not kept, so they are null, and `recorded`
 * says the record was written afterwards.
 */
export class Migration20261207110000_audit_retention_recorded extends Migration {
  override async up(): Promise<void> {
    this.addSql(`select append_audit_events(jsonb_agg(jsonb_build_object(
        'tenantId', h.tenant_id,
        'personal', jsonb_build_object('email', null, 'ip', null, 'userAgent', null),
        'payload', jsonb_build_object(
          'id', r.id, 'at', r.at, 'action', 'audit.retention_applied', 'outcome', 'ok', 'actorKind', 'system', 'actorId', 'audit-retention',
          'requestId', null, 'traceId', null,
          'details', jsonb_build_object(
            'removedEvents', h.retained_from_seq - 1,
            'fromSeq', '1',
            'keptFromSeq', h.retained_from_seq::text,
            'lastRemovedHash', encode(h.retained_prev_hash, 'hex'),
            'retentionDays', null,
            'cutOff', null,
            'recorded', 'at the upgrade that records retention on the chain: the cut was made earlier')))
        order by h.tenant_id))
      from audit_chain_heads h
      cross join lateral (select gen_random_uuid() as id, to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at) r
     where (h.retained_from_seq <> 1 or h.retained_prev_hash <> decode(repeat('00', 32), 'hex'))
       and not exists (select 1 from audit_events e
                        where e.tenant_id = h.tenant_id and e.action = 'audit.retention_applied' and e.seq >= h.retained_from_seq
                          and e.payload->'details'->>'keptFromSeq' = h.retained_from_seq::text
                          and e.payload->'details'->>'lastRemovedHash' = encode(h.retained_prev_hash, 'hex'))
    having count(*) > 0;`);
  }

  override async down(): Promise<void> {
    // The records stay: the trail is append-only, and they say what happened.
  }
}
