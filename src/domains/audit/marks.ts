/**
 * What the audit trail keeps of a value, decided by where the value is defined (a GraphQL
 * argument or input field, marked once in src/schema with `audited.*`; a field of a
 * configuration change, marked in the `auditChange` call), never by the name a client gives
 * its variable:
 * - `secret`   (passwords, tokens, API and model keys): never stored, only that one was given;
 * - `text`     (questions, document text, descriptions): its length and a keyed digest, so two
 *              events can be compared without the text being readable;
 * - `personal` (emails, names): stored outside the hashed payload, where erasure removes it;
 *              the payload keeps `{ personal: n }`, the place of the value in `personal.values`;
 * - `email`    (an email address): `personal`, but a value not shaped like an address (a
 *              password typed into the email field of a log-in) is kept only as
 *              `digest:<hmac>` in its place (personalEmail): no account has it, so erasure
 *              never needs it, and a password is never readable on the trail;
 * - `keySet`   (a JSON Web Key Set, or a key): only what identifies each key (its type, id,
 *              algorithm, use, curve and RFC 7638 thumbprint) and the names of any private
 *              members given, never their values: `{ keySet: { given, count, ids } }`;
 * - `plain`    (a deliberate "keep it": a field whose name sounds sensitive but is not, such as
 *              `emailClaim`): kept like any unmarked value.
 * Unmarked values are kept, bounded, with strings through `redact` as a second net.
 */
import { addMember, isSecretName, redact, redactPrefix } from '../../platform/logging/redaction.js';
import { isJwkPrivateMember, keySetIdentification } from '../../platform/secrets/json-web-keys.js';
import { cutAtCodePoint } from '../../platform/text/code-points.js';
import { looksLikeEmail } from '../fields.js';

export type AuditMark = 'secret' | 'text' | 'personal' | 'email' | 'keySet' | 'plain';

export const AUDIT_MARKS: readonly AuditMark[] = ['secret', 'text', 'personal', 'email', 'keySet', 'plain'];

export function isAuditMark(value: unknown): value is AuditMark {
  return typeof value === 'string' && (AUDIT_MARKS as readonly string[]).includes(value);
}

/**
 * Marks of the members of a JSON value, at any depth (`{ systemPrompt: 'text' }`): what a JSON
 * argument's schema cannot mark, and the fields of a configuration change (record.ts).
 */
export type MemberMarks = { readonly [member: string]: AuditMark | MemberMarks };

export function isMemberMarks(value: unknown): value is MemberMarks {
  return (
    value != null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    Object.values(value).every((mark) => isAuditMark(mark) || isMemberMarks(mark))
  );
}

/** A keyed digest of free text (AuditLog.digestText). */
export type TextDigest = (text: string) => { keyId: string; digest: string };

/** Bounds of what is kept of one unmarked value. */
const MAX_STRING = 256;
const MAX_ITEMS = 50;
const MAX_DEPTH = 6;
const MAX_KEY = 128;

/**
 * Collects what one event keeps: `keep` returns the payload's form of a marked value and
 * gathers the personal values, which the writer stores outside the hashed payload.
 */
export class KeptValues {
  readonly personal: string[] = [];

  constructor(private readonly digestText: TextDigest) {}

  /** The payload's form of `value` under `mark` (lists: each item under the same mark). */
  keep(mark: AuditMark | undefined, value: unknown): unknown {
    if (value == null) return value ?? null;
    // A key set is read whole, whatever its shape; what identifies a key is never a secret.
    if (mark === 'keySet') return { keySet: bounded(keySetIdentification(value), 0) };
    if (Array.isArray(value) && mark && mark !== 'plain') return value.slice(0, MAX_ITEMS).map((item) => this.keep(mark, item));
    switch (mark) {
      case 'secret':
        return { secret: 'omitted' };
      case 'text': {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        const { keyId, digest } = this.digestText(text);
        return { text: { length: text.length, digest, keyId } };
      }
      case 'personal':
        this.personal.push(this.keepPersonal(typeof value === 'string' ? personalForm(value) : JSON.stringify(value)));
        return { personal: this.personal.length - 1 };
      case 'email':
        this.personal.push(typeof value === 'string' ? personalEmail(value, this.digestText) : this.keepPersonal(JSON.stringify(value)));
        return { personal: this.personal.length - 1 };
      default:
        return bounded(value, 0);
    }
  }

  private keepPersonal(value: string): string {
    return cutAtCodePoint(printable(value), 1024);
  }

  /**
   * The payload's form of a JSON value whose members are marked: each marked member by its
   * mark, the rest as an unmarked value (`bounded`: secret-named members omitted, strings and
   * keys redacted and cut).
   */
  keepMembers(marks: AuditMark | MemberMarks | undefined, value: unknown): unknown {
    if (typeof marks === 'string') return this.keep(marks, value);
    const shown = this.keep(undefined, value);
    if (!marks || !isRecord(value) || !isRecord(shown)) return shown;
    // A marked member's name is a plain word: `bounded` kept it under the same name.
    for (const [member, mark] of Object.entries(marks)) {
      if (Object.hasOwn(value, member) && Object.hasOwn(shown, member)) shown[member] = this.keepMembers(mark, value[member]);
    }
    return shown;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => value != null && typeof value === 'object' && !Array.isArray(value);

/** An unmarked value, kept: strings cut and redacted, lists and objects cut, files by size. */
export function bounded(value: unknown, depth: number): unknown {
  if (value == null) return null;
  // Cut after redacting, not before: an email across the cut was kept in part (`ann@examp…`).
  if (typeof value === 'string') return value.length > MAX_STRING ? `${redactPrefix(printable(value), MAX_STRING)}…` : redact(printable(value));
  if (typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (value instanceof Date) return value.toISOString();
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((item) => bounded(item, depth + 1));
  // An upload (File / Blob): its size, never its content nor its name.
  if (typeof (value as { arrayBuffer?: unknown }).arrayBuffer === 'function') return { file: { size: (value as { size?: number }).size ?? null } };
  const entries = Object.entries(value as Record<string, unknown>).slice(0, MAX_ITEMS);
  // A member named as a secret ("api_key", "password") is not kept, whatever its value looks like;
  // nor a JSON Web Key's private members (`d`, `p`, `q`, `k`…: in an object with `kty` only).
  const kept: Record<string, unknown> = {};
  const suffixes = new Map<string, number>();
  for (const [key, item] of entries) {
    // A key is text too (a map keyed by email): redacted, then cut, like a string; judged as
    // written too (`ｐａｓｓｗｏｒｄ` is written `password`), and never over another redacted alike.
    const written = redactPrefix(printable(key), MAX_KEY);
    const secret = item != null && (isSecretName(key) || isSecretName(written) || isJwkPrivateMember(value as object, key));
    addMember(kept, written, secret ? { secret: 'omitted' } : bounded(item, depth + 1), suffixes);
  }
  return kept;
}

/** PostgreSQL's jsonb cannot hold U+0000 nor lone surrogates: they become U+FFFD. */
export function printable(text: string): string {
  return text.toWellFormed().replace(/\u0000/g, '\uFFFD');
}

/**
 * What an email-marked value keeps among the personal values: the address, in the form erasure
 * matches (personalForm); or, for a value that is no address (no single `@` before a domain: a
 * password typed into the email field, the usual way a failed log-in leaks one), `digest:` and
 * a keyed digest of it, so repeated attempts with the same value can still be matched, never
 * read. The actor's email of an event is kept the same way (audit-log.ts).
 */
export function personalEmail(value: string, digestText: TextDigest): string {
  return isEmailShaped(value) ? cutAtCodePoint(printable(personalForm(value)), 1024) : notAnEmail(value, digestText);
}

/** Whether a value given as an email is shaped like an address (as sign-in reads it). */
export function isEmailShaped(value: string): boolean {
  return looksLikeEmail(personalForm(value));
}

/** What is kept of a value given as an email that is none: `digest:` and its keyed digest. */
export function notAnEmail(value: string, digestText: TextDigest): string {
  return `digest:${digestText(printable(personalForm(value).toLowerCase())).digest}`;
}

/**
 * A personal value as erasure will look for it: erasure matches a user's email (lowercased)
 * against the stored values, so an email typed with spaces, full-width letters or capitals
 * (which sign-in accepts) is stored in the form it will be matched in.
 */
function personalForm(value: string): string {
  const text = value.normalize('NFKC').trim();
  return text.includes('@') ? text.toLowerCase() : text;
}
