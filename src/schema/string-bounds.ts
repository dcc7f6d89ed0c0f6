/**
 * The length bound every String argument and input field that is not display text carries:
 * `...bounded('slug')` on the field (names, titles and descriptions carry `displayText`, which
 * bounds them too). A value over it is refused with BAD_USER_INPUT before the resolver runs,
 * so before anything is looked up: `extensions.issues` names the field, the message the
 * limit (`input.email: must be at most 320 characters (got 900000)`). An unbounded string used
 * to go into MikroORM criteria, which walk a string value character by character
 * (`Object.keys`): one anonymous `logIn` with a 1 MB email held the event loop for seconds.
 * test/hardening/string-bounds.test.ts walks the schema and fails on a String argument or input
 * field without a bound, so a new one cannot forget it. The domain services keep their own,
 * finer checks (a slug's characters, an email's form, a password's bytes).
 */
import { z } from 'zod';
import type { AuditMark } from '../domains/audit/marks.js';
import { EMAIL_MAX, REFERENCE_MAX, SLUG_MAX } from '../domains/fields.js';

/** The largest of each kind, in UTF-16 code units (what `String.length` counts: cheap and an upper bound). */
export const STRING_BOUNDS = {
  /** RFC 5321 allows 254 in a path; accounts have allowed 320 (64 + @ + 255). */
  email: EMAIL_MAX,
  slug: SLUG_MAX,
  /** A tenant's id (36) or slug. */
  tenant: SLUG_MAX,
  /** `tenantSlug/endpointSlug`. */
  reference: REFERENCE_MAX,
  /** Refresh and invitation tokens (under 100 in practice). */
  token: 512,
  /** The domain counts bytes (256 at most); this only stops megabytes before hashing. */
  password: 1024,
  /** A model server's API key. */
  secret: 4096,
  /** A type, language, MIME type, audit action or outcome, claim or column name. */
  keyword: 256,
  /** An actor id (user, API key, issuer#subject) or caller id. */
  actor: 1024,
  /** A URL, an issuer, an audience. */
  url: 2048,
  /** A CIDR range. */
  cidr: 64,
  /** A pagination cursor. */
  cursor: 512,
  /** A search filter (`nameContains`, `titleContains`, the catalog's `search`; the services allow 200). */
  search: 1000,
  /** A name to keep an uploaded file under: ingestion refuses one over 1000 by name (INVALID_NAME, per file); this stops megabytes. */
  fileName: 4096,
} as const;

export type StringBoundKind = keyof typeof STRING_BOUNDS;

const SCHEMAS = Object.fromEntries(
  Object.entries(STRING_BOUNDS).map(([kind, max]) => [
    kind,
    z.string().check((context) => {
      if (context.value.length > max) context.issues.push({ code: 'custom', input: '(not shown)', message: `must be at most ${max} characters (got ${context.value.length})` });
    }),
  ]),
) as Record<StringBoundKind, z.ZodString>;

/**
 * Options to spread into a `t.string(...)` / `t.arg.string(...)` / `t.stringList(...)`: the
 * validation (each item of a list) and its marking, with the field's audit mark beside it when
 * it has one (`bounded('email', 'personal')`): both live in `extensions`, so spreading
 * `audited.personal` as well would replace this.
 */
export function bounded(kind: StringBoundKind, audit?: AuditMark) {
  return { validate: SCHEMAS[kind], extensions: { maxLength: STRING_BOUNDS[kind], ...(audit ? { audit } : {}) } };
}

/** The same for a list of strings: every item bounded. */
export function boundedList(kind: StringBoundKind, audit?: AuditMark) {
  return { validate: z.array(SCHEMAS[kind]), extensions: { maxLength: STRING_BOUNDS[kind], ...(audit ? { audit } : {}) } };
}
