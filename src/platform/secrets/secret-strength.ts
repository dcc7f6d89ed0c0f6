/**
 * Whether a production secret looks guessable. A length rule alone let `aaaa…` (32 × `a`) sign
 * access tokens and an all-zero master key seal model API keys; a symbol-entropy estimate alone
 * let `changemechangemechangemechangemeXY` sign them (a word's distinct letters counted as if
 * random, a repetition caught only when exact), so production applies two estimates and a value
 * must clear both:
 *
 * - a byte-level one, for keys that are bytes: one symbol repeated, a value that is whole copies
 *   of a shorter unit, and the Shannon entropy of the symbols and of the steps between neighbours
 *   (which catches bytes 0, 1, 2, …), the lower of the two, times the length;
 * - zxcvbn (`@zxcvbn-ts/core` with its common dictionaries), the guessing work a cracker who tries
 *   passwords, words, repeats (exact or with a tail), l33t variations, keyboard walks,
 *   sequences and dates first would need. Its score counts every character it cannot explain as
 *   one of ten guesses, so a random value scores far below its real entropy: the thresholds
 *   below were set against 300+ random draws of the documented size (32 random hex characters
 *   ≥ 95 bits, 16 random hex characters ≥ 45 bits, 48 random bytes in base64 ≥ 208 bits).
 */
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

/** What a secret is checked against: the least estimated entropy and guessing work, and how to make a good one. */
export interface SecretRule {
  minEntropyBits: number;
  minGuessBits: number;
  generate: string;
}

export const SECRET_RULES = {
  /** HS256 key, at least 32 characters. */
  jwtSecret: { minEntropyBits: 88, minGuessBits: 80, generate: 'openssl rand -base64 48' },
  /** 32 bytes; 32 random bytes estimate ≥ 141 bits of symbol entropy, ≥ 100 of guessing work. */
  masterKey: { minEntropyBits: 112, minGuessBits: 80, generate: 'openssl rand -base64 32' },
  /** A bearer token of at least 16 characters. */
  metricsToken: { minEntropyBits: 32, minGuessBits: 32, generate: 'openssl rand -base64 32' },
  /** A database password: hex, because base64's `/`, `+` and `=` would need escaping in a URL. */
  databasePassword: { minEntropyBits: 32, minGuessBits: 40, generate: 'openssl rand -hex 24' },
} satisfies Record<string, SecretRule>;

/** Why `secret` is too predictable for `rule`, or undefined when it is not. Never includes the secret. */
export function secretWeakness(secret: string | Uint8Array, rule: SecretRule): string | undefined {
  const symbols = typeof secret === 'string' ? [...secret].map((char) => char.codePointAt(0)!) : [...secret];
  const fix = `generate one with \`${rule.generate}\``;
  if (new Set(symbols).size <= 1) return `is one symbol repeated; ${fix}`;
  const period = smallestPeriod(symbols);
  if (period <= symbols.length / 2) return `repeats a pattern of ${period}; ${fix}`;
  const steps = symbols.slice(1).map((symbol, i) => symbol - symbols[i]!);
  const bits = Math.floor(symbols.length * Math.min(shannon(symbols), shannon(steps)));
  if (bits < rule.minEntropyBits) return `is too predictable (about ${bits} bits of entropy, at least ${rule.minEntropyBits} needed); ${fix}`;
  // Bytes as latin1: a key that is base64 of typed text is checked as that text.
  const guessBits = Math.floor(estimator().check(typeof secret === 'string' ? secret : Buffer.from(secret).toString('latin1')).guessesLog10 * Math.log2(10));
  if (guessBits < rule.minGuessBits) {
    return `is guessable: built from words, repeats, keyboard walks or sequences (about ${guessBits} bits of guessing work, at least ${rule.minGuessBits} needed); ${fix}`;
  }
  return undefined;
}

let shared: ZxcvbnFactory | undefined;
/** Built on first use: ranking the dictionaries takes a quarter of a second that development never needs. */
function estimator(): ZxcvbnFactory {
  // Levenshtein matching would add little (l33t and repeat matching catch the variations that
  // matter here) and makes one check of a long value take ~10× longer.
  shared ??= new ZxcvbnFactory({ dictionary: { ...dictionary, sluice: ['sluice'] }, graphs: adjacencyGraphs, useLevenshteinDistance: false });
  return shared;
}

/** Bits per symbol of the symbols' frequency distribution. */
function shannon(symbols: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const symbol of symbols) counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / symbols.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** The shortest p with symbols[i] === symbols[i - p] throughout (the length itself when none is shorter). */
function smallestPeriod(symbols: readonly number[]): number {
  // Knuth–Morris–Pratt failure function: length minus the longest proper border.
  const border = new Array<number>(symbols.length).fill(0);
  for (let i = 1, k = 0; i < symbols.length; i++) {
    while (k > 0 && symbols[i] !== symbols[k]) k = border[k - 1]!;
    if (symbols[i] === symbols[k]) k += 1;
    border[i] = k;
  }
  return symbols.length - (border[symbols.length - 1] ?? 0);
}
