/**
 * Events written before a rule of marks.ts was tightened keep what the rule now masks: until
 * 2026-12-06 `config.*` change events kept their values through a narrower copy of the rules
 * (an `slk_` key in an endpoint's name, `Bearer …` and `sk-proj-…` in a model config, a model's
 * system prompt verbatim), and operation events kept the operation's name and field aliases as
 * sent, while `redact` missed keys glued to other text (`ab-slk_…`). This module applies
 * today's rules to what such events keep (`rescrubbedDetails`), and rewrites the chains whose
 * events change (`rescrubAuditHistory`): each changed event's details are replaced, the chain is
 * re-hashed from the first one, and the rewrite is recorded on the chain as an
 * `audit.chain.rewritten` event (docs/audit.md, "Chain rewrites"). Events written by today's
 * code are unchanged by it, so running it again rewrites nothing. Each rewrite has its rules
 * (`RescrubRules`): 2026-12-06's (`rescrubbedDetails`), and 2026-12-07's, which removes JSON Web
 * Keys' private members that unmarked values kept (`detailsWithoutPrivateKeys`).
 *
 * Migrations-local, for the two migrations that run it. 2026-12-07's rules are frozen here as
 * literals (a migration replays what production ran, whatever src/ says later). 2026-12-06's
 * run today's redaction (src/platform/logging/redaction.ts) on purpose: that migration applies
 * the rules of the build that runs it, which are never weaker than its own.
 */
import { addMember, isSecretName, redact } from '../../src/platform/logging/redaction.js';
import type { OwnerQuery } from './owner-query.js';

/** A form the audit trail writes in place of a value (marks.ts): kept as it is. */
function isKeptForm(value: object): boolean {
  const entries = Object.entries(value);
  if (entries.length !== 1) return false;
  const [member, inner] = entries[0]!;
  switch (member) {
    case 'secret':
      return inner === 'omitted';
    case 'personal':
      return typeof inner === 'number';
    case 'removed':
      return typeof inner === 'string';
    case 'text':
    case 'file':
    case 'keySet':
      return inner != null && typeof inner === 'object' && !Array.isArray(inner);
    default:
      return false;
  }
}

const OMITTED = { secret: 'omitted' };
const MAX_DEPTH = 16;

/**
 * A value an unmarked argument or a configuration change kept, under today's `bounded` rules:
 * strings and keys redacted, the value of a secret-named member omitted, a model config's
 * `systemPrompt` (today `text`: a keyed digest this code cannot compute again) removed.
 * Strings are not cut again: they were cut when written, and cutting them again at a blank
 * would change what today's code wrote.
 */
function rekept(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redact(value);
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => rekept(item, depth + 1));
  if (isKeptForm(value)) return value;
  const out: Record<string, unknown> = {};
  const suffixes = new Map<string, number>();
  for (const [key, item] of Object.entries(value)) {
    const written = redact(key);
    const secret = item != null && (isSecretName(key) || isSecretName(written));
    const kept = secret ? OMITTED : key === 'systemPrompt' && typeof item === 'string' ? { removed: 'text' } : rekept(item, depth + 1);
    addMember(out, written, kept, suffixes);
  }
  return out;
}

const isRecord = (value: unknown): value is Record<string, unknown> => value != null && typeof value === 'object' && !Array.isArray(value);

/**
 * What an event's `details` keep under today's rules: an operation event's name, aliases and
 * arguments, a configuration change's before and after. Other events' details are unchanged.
 */
export function rescrubbedDetails(action: string, details: unknown): unknown {
  if (!isRecord(details)) return details;
  if (action.startsWith('graphql.')) {
    const fields = Array.isArray(details.fields)
      ? details.fields.map((field) => {
          if (!isRecord(field)) return field;
          return {
            ...field,
            ...(typeof field.alias === 'string' ? { alias: redact(field.alias) } : {}),
            ...('arguments' in field ? { arguments: rekept(field.arguments, 0) } : {}),
          };
        })
      : details.fields;
    return {
      ...details,
      ...(typeof details.operationName === 'string' ? { operationName: redact(details.operationName) } : {}),
      ...('fields' in details ? { fields } : {}),
    };
  }
  if (action.startsWith('config.')) {
    return {
      ...details,
      ...('before' in details ? { before: rekept(details.before, 0) } : {}),
      ...('after' in details ? { after: rekept(details.after, 0) } : {}),
    };
  }
  return details;
}

/** JSON Web Keys' private members as of 2026-12-07 (json-web-keys.ts then; frozen). */
const JWK_PRIVATE_MEMBERS_2026_12_07: ReadonlySet<string> = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);

/** A private member only in an object that is a JWK (it names its `kty`): elsewhere `d` or `k` is an ordinary name. */
const isJwkPrivateMember = (object: object, name: string) => JWK_PRIVATE_MEMBERS_2026_12_07.has(name) && Object.hasOwn(object, 'kty');

/**
 * JSON Web Keys' private members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`, in an object with
 * `kty`) as `{ "secret": "omitted" }`, at any depth, everything else as it is: what an unmarked
 * value kept of a key until 2026-12-07, when an identity provider's `jwks` had no audit mark and
 * member names alone decided (a private key pasted as `jwks` was kept with its `d`).
 */
function withoutPrivateKeys(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  // Forms the trail writes in place of a value are read too: none holds a private member, and an
  // old unmarked value shaped like one (`{"text": {…a key…}}`) is not skipped.
  if (Array.isArray(value)) return value.map((item) => withoutPrivateKeys(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    Object.defineProperty(out, key, {
      value: item != null && isJwkPrivateMember(value, key) ? OMITTED : withoutPrivateKeys(item, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** An event's `details` without JSON Web Keys' private members: operation arguments, configuration changes. */
export function detailsWithoutPrivateKeys(action: string, details: unknown): unknown {
  if (!isRecord(details)) return details;
  if (action.startsWith('graphql.') && Array.isArray(details.fields)) {
    return { ...details, fields: details.fields.map((field) => (isRecord(field) && 'arguments' in field ? { ...field, arguments: withoutPrivateKeys(field.arguments, 0) } : field)) };
  }
  if (action.startsWith('config.')) {
    return {
      ...details,
      ...('before' in details ? { before: withoutPrivateKeys(details.before, 0) } : {}),
      ...('after' in details ? { after: withoutPrivateKeys(details.after, 0) } : {}),
    };
  }
  return details;
}

/** What a rewrite changes in an event's details, and how its `audit.chain.rewritten` event names it. */
export interface RescrubRules {
  details: (action: string, details: unknown) => unknown;
  reason: string;
  removed: string[];
}

/** The rules of the 2026-12-06 rewrite (Migration20261206190000_audit_history_rescrubbed). */
export const RESCRUB_2026_12_06: RescrubRules = {
  details: rescrubbedDetails,
  reason: "values kept by rules older than today's: configuration changes, operation names and aliases, keys glued to text (2026-12-06)",
  removed: ['secrets in details.before/after of config.* events, and model system prompts', 'secrets in operation names, aliases and arguments of graphql.* events'],
};

/** The rules of the 2026-12-07 rewrite (Migration20261207140000_audit_history_without_private_keys). */
export const RESCRUB_2026_12_07: RescrubRules = {
  details: detailsWithoutPrivateKeys,
  reason: 'private members of JSON Web Keys kept by unmarked arguments, such as a private key given as an identity provider’s jwks (2026-12-07)',
  removed: ['JWK private members (d, p, q, dp, dq, qi, oth, k) in arguments of graphql.* events and details.before/after of config.* events'],
};

const BATCH = 1_000;

/**
 * Applies the rules' `details` (by default `rescrubbedDetails`) to every event of every chain,
 * under an exclusive lock on the chain heads (no append interleaves), re-hashes each chain from
 * its first changed event and records the rewrite on it. Returns how many events each rewritten chain had changed.
 */
export async function rescrubAuditHistory(query: OwnerQuery, rules: RescrubRules = RESCRUB_2026_12_06): Promise<Map<string, number>> {
  await query('lock table audit_chain_heads in exclusive mode');
  // Migrations run in one transaction: an earlier rewrite's tables are still there.
  await query('drop table if exists pg_temp.audit_rescrub_from, pg_temp.audit_rescrub_rules');
  await query('create temp table audit_rescrub_from (tenant_id uuid primary key, first_seq bigint not null, changed bigint not null) on commit drop');
  await query('create temp table audit_rescrub_rules (reason text not null, removed jsonb not null) on commit drop');
  await query('insert into audit_rescrub_rules values ($1, $2::jsonb)', [rules.reason, JSON.stringify(rules.removed)]);
  const rewritten = new Map<string, number>();
  for (const { tenant_id: tenantId } of await query('select tenant_id from audit_chain_heads order by tenant_id')) {
    let after = '0';
    let firstSeq: string | undefined;
    let changed = 0;
    for (;;) {
      const rows = await query(
        `select seq::text as seq, created_at::text as created_at, action, payload->'details' as details
           from audit_events where tenant_id = $1 and seq > $2::bigint order by seq limit ${BATCH}`,
        [tenantId, after],
      );
      if (rows.length === 0) break;
      const updates = [];
      for (const row of rows) {
        const details = rules.details(String(row.action), row.details);
        if (JSON.stringify(details) === JSON.stringify(row.details)) continue;
        updates.push({ seq: row.seq, created_at: row.created_at, details });
        firstSeq ??= String(row.seq);
      }
      if (updates.length > 0) {
        await query(
          `update audit_events e set payload = jsonb_set(e.payload, '{details}', c.details)
             from jsonb_to_recordset($1::jsonb) as c(seq bigint, created_at timestamptz, details jsonb)
            where e.tenant_id = $2 and e.seq = c.seq and e.created_at = c.created_at`,
          [JSON.stringify(updates), tenantId],
        );
        changed += updates.length;
      }
      after = String(rows.at(-1)!.seq);
    }
    if (firstSeq === undefined) continue;
    await query('insert into audit_rescrub_from values ($1, $2::bigint, $3)', [tenantId, firstSeq, changed]);
    rewritten.set(String(tenantId), changed);
  }
  if (rewritten.size > 0) await query(REHASH_AND_RECORD_SQL);
  return rewritten;
}

/** Re-hashes each chain in audit_rescrub_from from its first changed event and records the rewrite. */
const REHASH_AND_RECORD_SQL = `do $$
declare
  chain record;
  ev record;
  prev bytea;
  rewrite uuid;
  rules record;
  at text := to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
begin
  select * into rules from audit_rescrub_rules;
  for chain in select h.*, r.first_seq, r.changed from audit_chain_heads h join audit_rescrub_from r using (tenant_id) order by h.tenant_id loop
    if chain.first_seq <= chain.retained_from_seq then
      prev := chain.retained_prev_hash;
    else
      select e.hash into prev from audit_events e where e.tenant_id = chain.tenant_id and e.seq = chain.first_seq - 1;
    end if;
    for ev in select e.seq, e.created_at, e.payload from audit_events e
               where e.tenant_id = chain.tenant_id and e.seq >= chain.first_seq order by e.seq loop
      update audit_events set prev_hash = prev, hash = sha256(prev || convert_to(ev.payload::text, 'UTF8'))
       where tenant_id = chain.tenant_id and seq = ev.seq and created_at = ev.created_at;
      prev := sha256(prev || convert_to(ev.payload::text, 'UTF8'));
    end loop;
    update audit_chain_heads set hash = prev where tenant_id = chain.tenant_id;
    rewrite := gen_random_uuid();
    perform append_audit_events(jsonb_build_array(jsonb_build_object(
      'tenantId', chain.tenant_id, 'id', rewrite, 'createdAt', at,
      'personal', jsonb_build_object('email', null, 'ip', null, 'userAgent', null),
      'payload', jsonb_build_object(
        'id', rewrite, 'at', at, 'action', 'audit.chain.rewritten', 'outcome', 'ok', 'actorKind', 'system', 'actorId', null,
        'requestId', null, 'traceId', null,
        'details', jsonb_build_object(
          'reason', rules.reason,
          'removed', rules.removed,
          'changedEvents', chain.changed,
          'fromSeq', chain.first_seq::text,
          'toSeq', chain.seq::text,
          'previousHeadHash', encode(chain.hash, 'hex'),
          'rewrittenHeadHash', encode(prev, 'hex'))))));
  end loop;
end $$;`;
