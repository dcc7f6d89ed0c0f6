/**
 * `content_guard`: checks on the query text before anything reads it: length, encoding
 * (well-formed Unicode, no replacement characters from bad UTF-8, no control characters, no
 * bidirectional overrides), how many URLs (linkify-it) and phone numbers (libphonenumber-js)
 * it carries, read after normalising (see `inspectedText`) so look-alike dots and invisible
 * characters do not hide a URL.
 * A query that
 * fails is refused (POLICY_DENIED) and counted as a violation; a caller with more than
 * `maxViolationsPerMinute` violations within a minute is refused everything (RATE_LIMITED,
 * reason BLOCKED) for `blockSeconds`. The violations are the decision log's rows, so the
 * block holds across API instances.
 */
import { findPhoneNumbersInText, isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import LinkifyIt from 'linkify-it';
import { z } from 'zod';
import { BIDI_CONTROLS, characterCount } from '../../display-text.js';
import { registerPolicyType, windowStart, type Verdict } from '../policy-type.js';

const configSchema = z.strictObject({
  maxLength: z.int().min(1).max(1_000_000).default(8192),
  maxUrls: z.int().min(0).max(1000).default(5),
  maxPhoneNumbers: z.int().min(0).max(1000).default(3),
  /** Numbers written without a country code are read as this country's (ISO 3166 alpha-2). */
  phoneCountry: z
    .string()
    .length(2)
    .transform((code) => code.toUpperCase())
    .refine((code) => isSupportedCountry(code), 'must be a supported ISO 3166 country code')
    .default('US'),
  maxViolationsPerMinute: z.int().min(1).max(10_000).default(10),
  blockSeconds: z.int().min(1).max(30 * 86_400).default(900),
});
type ContentGuardConfig = z.infer<typeof configSchema>;

const linkify = new LinkifyIt();
// Control characters other than tab, newline and carriage return (C1 included); U+FFFD marks
// bytes that were not UTF-8; bidirectional embeddings, overrides and isolates make a reader (or
// a reviewing model) see the text in another order than it is (BIDI_CONTROLS).
const UNACCEPTABLE = new RegExp(`[\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\uFFFD]|${BIDI_CONTROLS.source}`);
// What a reader would take for a dot between two labels of a host name, as NFKC leaves it:
// full stops (ideographic U+3002, which NFKC also makes of U+FF61 and U+FE12; Arabic U+06D4;
// Syriac U+0701, U+0702; Vai U+A60E; Lisu U+A4F8; Kharoshthi U+10A50; musical U+1D16D) and
// middle dots (U+00B7, which NFKC makes of Greek U+0387; U+2E31, U+2E33, U+2022, U+2027, U+2219,
// U+22C5, U+16EB, U+1427, U+A78F, U+10101; katakana U+30FB, which NFKC makes of U+FF65).
// NFKC already makes U+FF0E, U+FE52 and U+2024 a '.'. Digits that look like a dot (Arabic-Indic
// zero U+0660, U+06F0) are left alone: phone numbers are written with them.
// The price: Catalan's "l·l" reads as a dot too, so "col·la" counts as a URL (".la").
const ALTERNATIVE_DOTS = /[\u3002\u06D4\u0701\u0702\uA60E\uA4F8\u{10A50}\u{1D16D}\u00B7\u2E31\u2E33\u2022\u2027\u2219\u22C5\u16EB\u1427\uA78F\u{10101}\u30FB]/gu;
// Characters that show nothing (Default_Ignorable_Code_Point: zero-width characters, soft
// hyphen, variation selectors, the combining grapheme joiner, tag characters, Hangul fillers,
// U+206A–U+206F, …) and format characters (Cf: the bidirectional marks, Arabic number signs, …):
// inside a host name or a phone number they split it for the matchers, not for a reader.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/gu;
// Combining marks left on an ASCII letter or a digit once NFKC has composed what it can: no
// accented letter of any language (those compose, or sit on a non-ASCII base), only decoration
// (strike-through U+0336, keycap U+20E3, enclosing circles) that a reader looks through.
const DECORATION = /(?<=[A-Za-z\p{Nd}])\p{M}+/gu;

/**
 * The text as the URL and phone number checks read it (and nothing else: the query itself is
 * not changed): invisible and format characters removed, NFKC (fullwidth letters and digits,
 * compatibility dots), decorating marks on ASCII letters and digits removed, and the look-alike
 * dots as '.', so `example。com`, `ｅｘａｍｐｌｅ．ｃｏｍ`, `exa\u200Bmple.com`,
 * `example.o\uFE0Frg`, `example·org` or `2\u20E312 555 0123` are counted.
 */
export function inspectedText(text: string): string {
  // Invisible ones go before NFKC, so a joiner between a letter and its accent does not keep
  // them from composing (NFKC makes no invisible character of a visible one).
  return text.replace(INVISIBLE, '').normalize('NFKC').replace(DECORATION, '').replace(ALTERNATIVE_DOTS, '.');
}

/** The first check the text fails, or undefined. */
export function contentViolation(config: ContentGuardConfig, text: string): { reasonCode: string; reason: string } | undefined {
  // Characters as people count them (code points), like every other bound: an emoji is one.
  const length = characterCount(text);
  if (length > config.maxLength) return { reasonCode: 'CONTENT_TOO_LONG', reason: `The query is ${length} characters; at most ${config.maxLength}` };
  if (!text.isWellFormed() || UNACCEPTABLE.test(text)) {
    return { reasonCode: 'CONTENT_ENCODING', reason: 'The query must be valid UTF-8 text without control characters' };
  }
  const inspected = inspectedText(text);
  const urls = linkify.match(inspected)?.length ?? 0;
  if (urls > config.maxUrls) return { reasonCode: 'CONTENT_URLS', reason: `The query carries ${urls} URLs; at most ${config.maxUrls}` };
  const phones = findPhoneNumbersInText(inspected, { defaultCountry: config.phoneCountry as CountryCode }).length;
  if (phones > config.maxPhoneNumbers) {
    return { reasonCode: 'CONTENT_PHONE_NUMBERS', reason: `The query carries ${phones} phone numbers; at most ${config.maxPhoneNumbers}` };
  }
  return undefined;
}

/** When a caller's block ends: after the latest moment more than `max` violations fell within a minute. */
export function blockedUntil(times: readonly Date[], max: number, blockSeconds: number): Date | null {
  const sorted = times.map((time) => time.getTime()).sort((a, b) => a - b);
  let until: number | null = null;
  for (let end = 0, start = 0; end < sorted.length; end += 1) {
    while (sorted[end]! - sorted[start]! >= 60_000) start += 1;
    if (end - start + 1 > max) until = sorted[end]! + blockSeconds * 1000;
  }
  return until === null ? null : new Date(until);
}

registerPolicyType<ContentGuardConfig>({
  name: 'content_guard',
  description: 'Checks the query text (length, encoding, URLs, phone numbers); blocks callers with too many violations per minute.',
  configSchema,
  precedence: 20,
  facts: (config, call) => ({ violations: { kind: 'violations', since: windowStart(call.now, 60 + config.blockSeconds) } }),
  evaluate(config, call, facts): Verdict {
    const until = blockedUntil(facts.violations!.times, config.maxViolationsPerMinute, config.blockSeconds);
    if (until && until > call.now) {
      return {
        decision: 'DENY',
        code: 'RATE_LIMITED',
        reasonCode: 'BLOCKED',
        rule: `more than ${config.maxViolationsPerMinute} violations per minute: blocked ${config.blockSeconds} s`,
        reason: 'Too many refused queries: this caller is blocked for a while',
        retryAfterSeconds: Math.max(1, Math.ceil((until.getTime() - call.now.getTime()) / 1000)),
      };
    }
    const violation = contentViolation(config, call.query);
    if (!violation) return { decision: 'ALLOW', rule: 'content checks passed' };
    return { decision: 'DENY', code: 'POLICY_DENIED', rule: violation.reasonCode.toLowerCase(), ...violation };
  },
});
