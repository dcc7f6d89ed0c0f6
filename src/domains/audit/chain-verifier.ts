/**
 * Verifies a tenant's audit chain: every event's hash is sha256(previous hash ‖ payload) (the
 * payload as PostgreSQL's canonical jsonb text, recomputed in SQL), the links and sequence
 * numbers are unbroken from where retention left the chain to its head, the filterable
 * columns and the time agree with the payload, and the personal data matches the payload's
 * keyed digest. What cannot be checked fails rather than passes: personal data marked erased
 * must be its actor's pseudonym in the erased-actors list (an erasure the database recorded),
 * a digest under a master key this process lacks names that key, and personal data without a
 * digest must hold nothing. A chain rewrite
 * (`audit.chain.rewritten`, recorded by the migration that removed what should never have
 * been stored) must name, as the rewritten head, the hash its own event is linked to; the
 * rewrites met are reported with the head hash each replaced. A chain that does not start at
 * its first event was cut, and only retention cuts: its first kept event is accepted only when an
 * `audit.retention_applied` event on the chain names exactly that cut (where the kept chain
 * starts and the hash it links to), and no such record may name a cut the chain does not show.
 * Otherwise removing a chain's oldest events, head record and all, looked like a chain that never
 * had them (attacker review). Reads in batches, so a chain of any length is checked in constant
 * memory.
 */
import { isDeepStrictEqual } from 'node:util';
import type { SecretBox } from '../../platform/secrets/secret-box.js';
import { canonicalJson } from './audit-log.js';
import { RETENTION_APPLIED } from './retention.js';

export type Query = <T>(sql: string, params: unknown[]) => Promise<T[]>;

export interface VerifyRange {
  from?: Date | null;
  to?: Date | null;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  firstBrokenEventId: string | null;
  /** What was wrong with the first broken event. */
  problem: string | null;
  /** Rewrites recorded on the checked part of the chain (docs/audit.md, "Chain rewrites"). */
  rewrites: ChainRewrite[];
}

export interface ChainRewrite {
  eventId: string;
  /** The head hash before the rewrite (hex): what an earlier copy of the head names. */
  previousHeadHash: string;
  rewrittenHeadHash: string;
}

interface Row {
  seq: string;
  id: string;
  prev_hash: Buffer;
  hash: Buffer;
  hash_ok: boolean;
  columns_ok: boolean;
  created_at: Date | string;
  at: string | null;
  personal: Record<string, unknown>;
  /** The pseudonym the erased-actors list holds for the actor, when the event claims erasure. */
  erased_pseudonym: string | null;
  digest: string | null;
  key_id: string | null;
  rewrite: { previousHeadHash?: unknown; rewrittenHeadHash?: unknown } | null;
  /** A retention record's `keptFromSeq`: where it says the chain was cut. */
  cut_at: string | null;
}

const BATCH = 1000;
/** What the first event of a chain links to. */
const GENESIS = Buffer.alloc(32);

export async function verifyChain(query: Query, secrets: SecretBox, tenantId: string, range: VerifyRange = {}): Promise<VerifyResult> {
  const [head] = await query<{ seq: string; hash: Buffer; retained_from_seq: string; retained_prev_hash: Buffer }>(
    'select seq, hash, retained_from_seq, retained_prev_hash from audit_chain_head(?::uuid)',
    [tenantId],
  );
  if (!head) return { ok: true, checked: 0, firstBrokenEventId: null, problem: null, rewrites: [] };
  const retainedFrom = BigInt(head.retained_from_seq);

  // Where to start: the first event at or after `from`, linked to the one before it.
  let expectedSeq = retainedFrom;
  let expectedPrev: Buffer = head.retained_prev_hash;
  if (range.from) {
    const [first] = await query<{ seq: string }>('select min(seq) as seq from audit_events where tenant_id = ?::uuid and created_at >= ?::timestamptz', [tenantId, range.from.toISOString()]);
    if (!first?.seq) return { ok: true, checked: 0, firstBrokenEventId: null, problem: null, rewrites: [] };
    if (BigInt(first.seq) > retainedFrom) {
      const [before] = await query<{ hash: Buffer }>('select hash from audit_events where tenant_id = ?::uuid and seq = ?', [tenantId, String(BigInt(first.seq) - 1n)]);
      if (before) [expectedSeq, expectedPrev] = [BigInt(first.seq), before.hash];
    }
  }
  // Checked from where the kept chain starts: a cut there must be one retention recorded.
  let unexplainedCut = expectedSeq === retainedFrom && (retainedFrom !== 1n || !head.retained_prev_hash.equals(GENESIS));
  if (unexplainedCut) {
    const [record] = await query<{ id: string }>(
      `select id from audit_events where tenant_id = ?::uuid and action = ? and seq >= ? and seq <= ?
          and payload->'details'->>'keptFromSeq' = ? and payload->'details'->>'lastRemovedHash' = ? limit 1`,
      [tenantId, RETENTION_APPLIED, String(retainedFrom), head.seq, String(retainedFrom), head.retained_prev_hash.toString('hex')],
    );
    unexplainedCut = !record;
  }
  const cutProblem = `the chain starts at event ${retainedFrom}, but no ${RETENTION_APPLIED} event records removing the events before it`;

  // Up to the head read above, not beyond: events appended while we read (each statement
  // sees a newer snapshot) belong to the next verification, not a false "chain ends after its head".
  let checked = 0;
  let last: Row | undefined;
  const rewrites: ChainRewrite[] = [];
  for (;;) {
    const rows = await query<Row>(
      `select seq, id, prev_hash, hash,
              sha256(prev_hash || convert_to(payload::text, 'UTF8')) = hash as hash_ok,
              (action = payload->>'action' and outcome = payload->>'outcome' and actor_kind = payload->>'actorKind'
                 and actor_id is not distinct from payload->>'actorId' and id::text = payload->>'id') as columns_ok,
              created_at, payload->>'at' as at,
              personal, case when personal->'erased' is not null then audit_erased_pseudonym(actor_id) end as erased_pseudonym,
              payload->>'personalDigest' as digest, payload->>'personalKeyId' as key_id,
              case when action = 'audit.chain.rewritten' then payload->'details' end as rewrite,
              case when action = '${RETENTION_APPLIED}' then coalesce(payload->'details'->>'keptFromSeq', '') end as cut_at
         from audit_events
        where tenant_id = ?::uuid and seq >= ? and seq <= ? ${range.to ? 'and created_at < ?::timestamptz' : ''}
        order by seq limit ${BATCH}`,
      [tenantId, String(expectedSeq), head.seq, ...(range.to ? [range.to.toISOString()] : [])],
    );
    for (const row of rows) {
      const problem = BigInt(row.seq) === retainedFrom && unexplainedCut ? cutProblem : problemOf(row, expectedSeq, expectedPrev, retainedFrom, secrets);
      if (problem) return { ok: false, checked, firstBrokenEventId: row.id, problem, rewrites };
      if (row.rewrite) rewrites.push({ eventId: row.id, previousHeadHash: String(row.rewrite.previousHeadHash), rewrittenHeadHash: String(row.rewrite.rewrittenHeadHash) });
      checked += 1;
      expectedSeq = BigInt(row.seq) + 1n;
      expectedPrev = row.hash;
      last = row;
    }
    if (rows.length < BATCH) break;
  }
  // The whole chain up to now, and nothing of it left: a cut no record explains.
  if (!range.to && checked === 0 && unexplainedCut) return { ok: false, checked, firstBrokenEventId: null, problem: cutProblem, rewrites };
  // The whole chain up to now: it must end where its head says (no newest events removed).
  if (!range.to && expectedSeq - 1n !== BigInt(head.seq)) {
    return { ok: false, checked, firstBrokenEventId: last?.id ?? null, problem: `the chain ends at ${expectedSeq - 1n}, its head says ${head.seq}`, rewrites };
  }
  if (!range.to && last && !last.hash.equals(head.hash)) {
    return { ok: false, checked, firstBrokenEventId: last.id, problem: 'the last event is not the chain head', rewrites };
  }
  return { ok: true, checked, firstBrokenEventId: null, problem: null, rewrites };
}

function problemOf(row: Row, expectedSeq: bigint, expectedPrev: Buffer, retainedFrom: bigint, secrets: SecretBox): string | undefined {
  if (BigInt(row.seq) !== expectedSeq) return `event ${expectedSeq} is missing`;
  if (!row.prev_hash.equals(expectedPrev)) return 'its link to the previous event is broken';
  if (!row.hash_ok) return 'its payload does not match its hash';
  if (!row.columns_ok) return 'its columns do not match its payload';
  // append_audit_events takes the time from the payload: a row that disagrees was not written by it.
  if (row.at === null || Date.parse(row.at) !== new Date(row.created_at).getTime()) return 'its time does not match its payload';
  if (row.rewrite && row.rewrite.rewrittenHeadHash !== row.prev_hash.toString('hex')) return 'its record of a chain rewrite does not name the hash it follows';
  // Retention moves the chain's start and records it in one transaction: a record of a cut after
  // that start names events still on the chain, so it records no cut that happened.
  if (row.cut_at !== null && !(/^\d+$/.test(row.cut_at) && BigInt(row.cut_at) <= retainedFrom)) return 'its record of retention names a cut the chain does not show';
  return personalDataProblem(row, secrets);
}

function personalDataProblem(row: Row, secrets: SecretBox): string | undefined {
  // Erasing an account replaces its events' personal data: only with the pseudonym it is listed under.
  if (row.personal.erased !== undefined) {
    if (row.erased_pseudonym === null) return 'its personal data is marked erased, but its actor was never erased';
    if (!isDeepStrictEqual(row.personal, { erased: true, pseudonym: row.erased_pseudonym })) return 'its personal data is not its erased actor’s pseudonym';
    return undefined;
  }
  if (!row.digest || !row.key_id) return holdsPersonalData(row.personal) ? 'its personal data has no digest' : undefined;
  // Erasing an address from personal values changes what was digested on purpose (docs/audit.md: not checked).
  if (row.personal.valuesErased === true) return undefined;
  const digest = secrets.digestWith(row.key_id, 'audit personal data', canonicalJson(row.personal));
  if (digest === undefined) return `its personal data was digested under master key ${row.key_id}, which is neither SLUICE_MASTER_KEY nor in SLUICE_MASTER_KEY_PREVIOUS`;
  if (digest !== row.digest) return 'its personal data does not match its digest';
  return undefined;
}

/** Events the system writes (chain rewrites) carry no personal data and no digest of it. */
function holdsPersonalData(personal: Record<string, unknown>): boolean {
  return Object.values(personal).some((value) => value !== null && !(Array.isArray(value) && value.every((item) => item === null)));
}
