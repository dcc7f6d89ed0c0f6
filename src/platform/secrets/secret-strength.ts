/**
 * Whether a production secret looks guessable. A length rule alone let `aaaa…` (32 × `a`) sign
 * access tokens and an all-zero master key seal model API keys, so production also refuses
 * secrets whose estimated entropy is low.
 *
 * The estimate is deliberately simple and errs towards accepting a real random value: the
 * Shannon entropy of the symbols (bytes or characters) and of the steps between neighbours
 * (which catches `abcdef…` and `0123…`), the lower of the two, times the length; and a
 * separate refusal for a value that repeats a shorter unit (`changeme-changeme-…`). A random
 * value of the documented size clears the bar with a wide margin (measured over 20 000
 * draws: 32 random bytes ≥ 141 bits, 32 random hex characters ≥ 95 bits); a dictionary
 * phrase may still pass, which is why the message says how to make a real one.
 */

/** What a secret is checked against: its least estimated entropy, and how to make a good one. */
export interface SecretRule {
  minBits: number;
  generate: string;
}

export const SECRET_RULES = {
  /** HS256 key, at least 32 characters: even 32 random hex characters estimate ≥ 95 bits. */
  jwtSecret: { minBits: 88, generate: 'openssl rand -base64 48' },
  /** 32 random bytes estimate ≥ 141 bits; an all-same or counting key estimates 0. */
  masterKey: { minBits: 112, generate: 'openssl rand -base64 32' },
  /** A bearer token of at least 16 characters: 16 random hex characters estimate ≥ 33 bits. */
  metricsToken: { minBits: 32, generate: 'openssl rand -base64 32' },
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
  if (bits < rule.minBits) return `is too predictable (about ${bits} bits of entropy, at least ${rule.minBits} needed); ${fix}`;
  return undefined;
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
