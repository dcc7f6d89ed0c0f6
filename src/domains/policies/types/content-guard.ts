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
import { BIDI_CONTROLS } from '../../display-text.js';
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
// What a reader would take for a full stop in a host name: ideographic (U+3002) and, after
// NFKC, the halfwidth ideographic one (U+FF61 becomes U+3002); NFKC already makes U+FF0E,
// U+FE52 and U+2024 a '.'.
const ALTERNATIVE_DOTS = /[\u3002\uFF61\uFF0E]/g;
// Invisible characters that would split a host name for the matcher but not for a reader.
const INVISIBLE = /[\u00AD\u180E\u200B-\u200F\u2060-\u2064\uFEFF]/g;

/**
 * The text as the URL and phone number checks read it: NFKC (fullwidth letters and digits,
 * compatibility dots), the alternative full stops as '.', invisible characters removed, so a
 * URL written `example。com` or `ｅｘａｍｐｌｅ．ｃｏｍ` or `exa\u200Bmple.com` is counted.
 */
export function inspectedText(text: string): string {
  return text.normalize('NFKC').replace(ALTERNATIVE_DOTS, '.').replace(INVISIBLE, '').replace(BIDI_CONTROLS, '');
}

/** The first check the text fails, or undefined. */
export function contentViolation(config: ContentGuardConfig, text: string): { reasonCode: string; reason: string } | undefined {
  if (text.length > config.maxLength) return { reasonCode: 'CONTENT_TOO_LONG', reason: `The query is ${text.length} characters; at most ${config.maxLength}` };
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
