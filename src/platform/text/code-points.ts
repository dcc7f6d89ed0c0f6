/**
 * Text cut and stored whole characters at a time. JavaScript strings are UTF-16: a character
 * outside the Basic Multilingual Plane (most emoji) is two code units, a surrogate pair, and
 * `slice` cuts between them as readily as anywhere. Half a pair is not text: PostgreSQL refuses
 * it in `jsonb` (22P02 "Unicode low surrogate must follow a high surrogate"), and an audit
 * event cut that way once blocked the whole trail (an e-mail of 1 023 letters and an emoji).
 */

/** `text` cut to at most `max` code units, never between the two halves of a surrogate pair. */
export function cutAtCodePoint(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = max > 0 && isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}

/**
 * `value` with every string in it (object keys too, at any depth) made well-formed: a lone
 * surrogate becomes U+FFFD, as a UTF-8 encoder would make it. Arrays and plain objects are
 * copied only where something changed; other objects (dates) are kept as they are.
 */
export function wellFormed<T>(value: T): T {
  return wellFormedValue(value) as T;
}

function wellFormedValue(value: unknown): unknown {
  if (typeof value === 'string') return value.isWellFormed() ? value : value.toWellFormed();
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, index) => {
      const kept = wellFormedValue(item);
      if (kept !== item) (copy ??= [...value])[index] = kept;
    });
    return copy ?? value;
  }
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  let changed = false;
  const entries = Object.entries(value).map(([key, item]) => {
    const keptKey = wellFormedValue(key) as string;
    const kept = wellFormedValue(item);
    if (keptKey !== key || kept !== item) changed = true;
    return [keptKey, kept] as const;
  });
  return changed ? Object.fromEntries(entries) : value;
}

/** The first half of a surrogate pair: a cut just after it leaves half a character. */
export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
