/**
 * Masks personal data and credentials in free text: every log line passes through `redact`
 * (see logger.ts), and so does audit free text. Stable API: `redact(text, options?)` and
 * `redactValue(value, options?)`; what a mask looks like is documented in docs/operations.md
 * ("Logs") and must not change without telling the operators who search for it.
 *
 * What is masked, and how it reads afterwards:
 * - email addresses                          → `[redacted email]`
 * - phone numbers (libphonenumber-js)        → `[redacted phone]`
 * - payment card numbers that pass Luhn      → `[redacted card]` (a card-like number failing
 *   Luhn is left alone: it is an id, a count or a timestamp, not a card)
 * - JWTs (three base64url parts)             → `[redacted jwt]`
 * - Sluice credentials (`slk_`, `slr_`, `sli_` + 43 characters) → `slk_[redacted]`, keeping
 *   the kind so a line still says which credential was involved
 * - model provider keys (`sk-…`)             → `sk-[redacted]`
 * - `Bearer …` / `Basic …` credentials        → `Bearer [redacted]`
 * - credentials in a URL (`https://user:pass@host`) → `https://[redacted]@host`
 * - values of secret-named keys in `key=value` / `"key": "value"` text
 *   (password, accessToken, api_key, PGPASSWORD, …; secret-names.ts) → `password=[redacted]`
 *
 * Before matching, invisible characters (NUL and other controls, zero-width and bidi format
 * characters) are removed and fullwidth forms read as ASCII, so none can split a pattern.
 *
 * Phone numbers: only numbers written internationally (`+44 20 7946 0958`) are masked by
 * default. Logs are full of digit runs (durations, byte counts, ports, ids) that a national
 * reading would take for phone numbers, and Sluice has no single home country. An operator
 * whose users write national numbers sets `phoneCountry` (SLUICE_REDACT_PHONE_COUNTRY) to also
 * mask numbers valid in that country's national format.
 *
 * Cost: every pattern is guarded by a cheap test and anchored at a boundary, so a typical
 * 250-byte log line costs a few microseconds; libphonenumber-js (about 150 µs on a whole line)
 * only ever sees short candidate spans. Measured numbers are in test/observability/redaction.test.ts.
 */
import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js';
import { cutAtCodePoint } from '../text/code-points.js';
import { isJwkPrivateMember } from '../secrets/json-web-keys.js';
import { isSecretName, maskSecretAssignments } from './secret-names.js';

export { isSecretName };

export interface RedactionOptions {
  /**
   * Also mask phone numbers written in this country's national format (ISO 3166-1 alpha-2,
   * e.g. `US`). Without it only international (`+…`) numbers are masked. @default undefined
   */
  phoneCountry?: CountryCode;
  /**
   * How much of a value's strings `redactValue` keeps: each string is cut to `each` characters
   * (redacted first, never a value in part: redactPrefix), and all of them together to `total`,
   * after which a string is only the note that it was cut (`…[cut: 2097152 characters in all]`)
   * or `…`. Keys are cut at 256 characters. Log lines set it (LOG_STRING_LIMITS in logger.ts):
   * redaction is linear but not free (a 2 MB string of phone-like numbers took 6 to 10 s, on
   * the event loop serving every request). @default no limit
   */
  stringLimits?: { each: number; total: number };
}

// Credentials first: a JWT or key must not be half-eaten by the card or phone patterns.
// A JWT's payload (`.eyJ…`), with the whole run before it and the signature after: the header
// may be glued to other text (`ab<JWT>`), so the run before the dot is taken from its start and
// masked whole when it holds the header's `eyJ` (isJwtRun). Linear: a match starts only where a
// run starts, and a run without the dot fails at its end (looking for `eyJ` anywhere in a run
// instead, a run of `eyJeyJ…` cost quadratic time).
const JWT = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const isJwtRun = (match: string) => /eyJ[A-Za-z0-9_-]{4}/.test(match.slice(0, match.indexOf('.')));
// Sluice's own keys are found glued to other text too (`ab-slk_…`, `dir/slk_…-x.txt`), where a
// word boundary let them through whole; the rest of the run goes with them. Linear: a start
// that fails scans fewer than 43 characters, and one that matches takes the whole run.
const SLUICE_CREDENTIAL = /(sl[kri]_)[A-Za-z0-9_-]{43,}/g;
const PROVIDER_KEY = /(?<![\w-])(sk-)[A-Za-z0-9_-]{16,}/g;
// The userinfo of `scheme://userinfo@host`: up to the last `@` before any `/`, `?`, `#` or
// blank, as URL parsers read it (a password with an unencoded `@`, `mysql://root:p@ss@db`, once
// kept `ss@`).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)(?!\[redacted\]@)[^/?#\s]+@/gi;
const AUTH_SCHEME = /\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi;
// Anchored so each run of local-part characters is tried once: no quadratic backtracking.
const EMAIL = /(?<![\w.%+-])[\w.%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w-])/g;
// 13 to 19 digits, optionally grouped by single spaces or dashes, starting 2-6 (the card
// networks' ranges): millisecond timestamps (1…) and most ids never qualify, nor the digits
// after a decimal point.
const CARD = /(?<![\w.-])[2-6](?:[ -]?\d){12,18}(?![\w-])/g;
const INTERNATIONAL_PHONE = /\+\d[\d ().\/-]{5,22}\d/g;
const NATIONAL_PHONE = /(?<![\w+.-])\(?\d[\d ().\/-]{5,22}\d(?![\w-])/g;

// Characters a reader does not see (controls other than tab and line breaks, format
// characters: NUL, zero-width spaces, soft hyphens, bidi overrides) and fullwidth forms: one
// inside an email, card or token (`ann\u0000@example.com`) split it so no pattern matched and
// the line was written raw. Lines lose the invisible ones and read fullwidth forms as ASCII
// (NFKC) before the patterns run.
const INVISIBLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\p{Cf}]/gu;
const DISGUISED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\p{Cf}\uFF01-\uFF5E]/u;

/** `text` with personal data and credentials masked (see the module comment for the forms). */
export function redact(text: string, options: RedactionOptions = {}): string {
  let out = DISGUISED.test(text) ? text.replace(INVISIBLE, '').normalize('NFKC') : text;
  if (out.length < 6) return out;
  if (out.includes('.eyJ')) out = out.replace(JWT, (match) => (isJwtRun(match) ? '[redacted jwt]' : match));
  if (out.includes('_')) out = out.replace(SLUICE_CREDENTIAL, '$1[redacted]');
  if (out.includes('sk-')) out = out.replace(PROVIDER_KEY, '$1[redacted]');
  if (out.includes('://')) out = out.replace(URL_USERINFO, '$1[redacted]@');
  out = out.replace(AUTH_SCHEME, '$1$2[redacted]');
  out = maskSecretAssignments(out);
  if (out.includes('@')) out = out.replace(EMAIL, '[redacted email]');
  if (!/\d/.test(out)) return out;
  out = out.replace(CARD, (match) => (luhnValid(match) ? '[redacted card]' : match));
  if (out.includes('+')) out = out.replace(INTERNATIONAL_PHONE, (match) => maskPhones(match, undefined));
  if (options.phoneCountry) out = out.replace(NATIONAL_PHONE, (match) => maskPhones(match, options.phoneCountry));
  return out;
}

/** The longest key a value with string limits keeps. */
const MAX_KEY = 256;

/**
 * A key `redact` cannot change (letters only: no pattern matches without a digit, `@`, `_`,
 * `-`, `.`, a blank or a separator), as nearly every key of a log line is: not read again.
 */
const PLAIN_KEY = /^[A-Za-z]{1,64}$/;

/** What a secret-named member's value becomes in a log line. */
const REDACTED_MEMBER = '[redacted]';

/**
 * A copy of `value` with every string in it redacted, and the value of every member with a
 * secret's name (isSecretName) replaced (objects and arrays deeply, up to 8 levels; an Error
 * becomes `{ name, message, stack }`). For log lines and structured audit details.
 */
export function redactValue<T>(value: T, options: RedactionOptions = {}): T {
  return walk(value, options, 0, new WeakSet(), { left: options.stringLimits?.total ?? Infinity }) as T;
}

/**
 * `value` (JSON: the audit trail's details, already kept by their marks) with `redact` applied
 * to every string in it, keys included, and nothing else changed: no member is dropped or
 * replaced by its name. For a deployment's own redaction options (`phoneCountry`) over values
 * that were redacted without them.
 */
export function redactStrings(value: unknown, options: RedactionOptions, depth = 0): unknown {
  if (typeof value === 'string') return redact(value, options);
  if (value === null || typeof value !== 'object' || depth >= 16) return value;
  if (Array.isArray(value)) return value.map((item) => redactStrings(item, options, depth + 1));
  const out: Record<string, unknown> = {};
  const suffixes = new Map<string, number>();
  for (const [key, item] of Object.entries(value)) addMember(out, PLAIN_KEY.test(key) ? key : redact(key, options), redactStrings(item, options, depth + 1), suffixes);
  return out;
}

/** How many characters of strings a walk may still read (RedactionOptions.stringLimits). */
interface Budget {
  left: number;
}

function walk(value: unknown, options: RedactionOptions, depth: number, seen: WeakSet<object>, budget: Budget): unknown {
  if (typeof value === 'string') return redactString(value, options, budget);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= 8 || seen.has(value)) return '[redacted: too deep]';
  seen.add(value);
  if (value instanceof Error) {
    return { name: value.name, message: redactString(value.message, options, budget), stack: value.stack && redactString(value.stack, options, budget) };
  }
  if (Array.isArray(value)) return value.map((item) => walk(item, options, depth + 1, seen, budget));
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  const suffixes = new Map<string, number>();
  for (const [key, item] of Object.entries(value)) {
    // A key is text too (a map keyed by email): redacted, and cut when long. Never spent with
    // the strings' budget: a member's name says what its value was.
    const written = PLAIN_KEY.test(key)
      ? key
      : options.stringLimits && key.length > MAX_KEY
        ? `${redactPrefix(key, MAX_KEY, options)}${cutNote(key.length)}`
        : redact(key, options);
    // Judged as written too: `ｐａｓｓｗｏｒｄ` and `pass\u200bword` are written `password`.
    // A JSON Web Key's private members too (`d`, `p`, `k`…), in an object with `kty` only.
    const secret = item != null && (isSecretName(key) || isSecretName(written) || isJwkPrivateMember(value, key));
    addMember(out, written, secret ? REDACTED_MEMBER : walk(item, options, depth + 1, seen, budget), suffixes);
  }
  return out;
}

/**
 * `redact` on as much of `text` as the limits leave (RedactionOptions.stringLimits), saying
 * where it was cut. Every string is charged to the line's budget; once it is spent, a string
 * is only the note that it was cut, so a line of many short strings costs no more than one of
 * a few long ones.
 */
function redactString(text: string, options: RedactionOptions, budget: Budget): string {
  if (!options.stringLimits) return redact(text, options);
  // Spent: nothing more is read, and no note is longer than what it stands for.
  if (budget.left === 0) return text.length > CUT_NOTE_LENGTH ? cutNote(text.length) : '…';
  const limit = Math.min(options.stringLimits.each, budget.left);
  budget.left = Math.max(0, budget.left - Math.min(text.length, limit));
  if (text.length <= limit) return redact(text, options);
  const { kept, whole } = redactedPrefix(text, limit, options);
  return whole ? kept : `${kept}${cutNote(text.length)}`;
}

/**
 * What keys, JWTs, credentials (`Bearer …`, base64), emails and URLs (with their userinfo) are
 * made of: anything but blanks, quotes, brackets, commas and semicolons.
 */
const VALUE_CHARACTER = /[^\s"'<>()[\]{},;]/;

/** What a cut string ends with: how long it was. */
function cutNote(length: number): string {
  return `…[cut: ${length} characters in all]`;
}

const CUT_NOTE_LENGTH = cutNote(1_000_000).length;

/**
 * How far past a cut the text is read: longer than an email (320 characters at most), a phone
 * or card number, a key.
 */
const READ_PAST_CUT = 4_096;

/**
 * At most the first `limit` characters of `text`, redacted (all of it when it is no longer),
 * never a secret or personal value in part (`ann@examp` and `+1 202 555` pass for neither):
 * - the text is redacted read past the cut, so a value across the cut is masked whole;
 * - when the text is longer than what was read, whatever the read itself cut through sits
 *   unmasked at the end of the redacted text: the last READ_PAST_CUT characters are dropped,
 *   and a value across the cut is dropped whole (one longer than READ_PAST_CUT, a JWT or a URL
 *   with a long password, may reach back from the read's end past the cut, unrecognised). A
 *   value is a run of VALUE_CHARACTERs: every key, JWT, credential, email and URL masked is
 *   one; compact JSON is cut at its quotes, commas or brackets, not dropped whole.
 * When all of the text was read, every value in it was seen whole and masked: the cut falls
 * at the limit.
 */
export function redactPrefix(text: string, limit: number, options: RedactionOptions = {}): string {
  return redactedPrefix(text, limit, options).kept;
}

/** redactPrefix, and whether what it kept is the whole text (masks can make it short enough). */
function redactedPrefix(text: string, limit: number, options: RedactionOptions): { kept: string; whole: boolean } {
  const readAll = text.length <= limit + READ_PAST_CUT;
  const redacted = redact(readAll ? text : text.slice(0, limit + READ_PAST_CUT), options);
  if (readAll && redacted.length <= limit) return { kept: redacted, whole: true };
  let cut = Math.max(0, Math.min(limit, redacted.length - (readAll ? 0 : READ_PAST_CUT)));
  if (!readAll) while (cut > 0 && VALUE_CHARACTER.test(redacted[cut - 1]!) && VALUE_CHARACTER.test(redacted[cut]!)) cut--;
  return { kept: cutAtCodePoint(redacted, cut), whole: false };
}

/**
 * Adds `value` to `object` under `key`, or `key#2`, `key#3`… when `object` has it already (the
 * suffixes given so far in `suffixes`, one map per object): two
 * keys redacted alike (`[redacted email]`) must not overwrite one another. Defined, not
 * assigned: a key `__proto__` is a member like any other.
 */
export function addMember(object: Record<string, unknown>, key: string, value: unknown, suffixes: Map<string, number>): void {
  let name = key;
  if (Object.hasOwn(object, name)) {
    // The next suffix is remembered per key: a map keyed by 100 000 emails stays linear.
    let n = suffixes.get(key) ?? 2;
    while (Object.hasOwn(object, `${key}#${n}`)) n++;
    suffixes.set(key, n + 1);
    name = `${key}#${n}`;
  }
  Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
}

/** The Luhn checksum over the digits of `candidate` (separators ignored). */
export function luhnValid(candidate: string): boolean {
  let sum = 0;
  let double = false;
  for (let index = candidate.length - 1; index >= 0; index--) {
    const code = candidate.charCodeAt(index) - 48;
    if (code < 0 || code > 9) continue;
    let digit = code;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Masks what libphonenumber-js confirms to be phone numbers inside a short candidate span. */
function maskPhones(candidate: string, country: CountryCode | undefined): string {
  const found = findPhoneNumbersInText(candidate, country ? { defaultCountry: country } : undefined);
  if (found.length === 0) return candidate;
  let out = '';
  let from = 0;
  for (const { startsAt, endsAt } of found) {
    out += `${candidate.slice(from, startsAt)}[redacted phone]`;
    from = endsAt;
  }
  return out + candidate.slice(from);
}
