/**
 * Whether two rankings' per-question scores differ by more than chance: the paired
 * randomization test (Fisher's; the test Smucker, Allan and Carterette, CIKM 2007, recommend for
 * comparing retrieval systems on the same questions). Under the null hypothesis the two systems
 * are interchangeable, so each question's difference is as likely to have either sign; the
 * p-value is the share of sign assignments whose mean difference is at least as far from 0 as
 * the observed one (two-sided). With 2^n assignments out of reach, `trials` random ones are
 * drawn from a seeded generator (the same inputs give the same p every run), and the estimate
 * is (hits + 1) / (trials + 1), which never claims 0.
 */
import { seededRandom } from './vectors.js';

export interface PairedComparison {
  /** mean of a − b over the questions */
  meanDifference: number;
  /** two-sided p-value of the paired randomization test */
  p: number;
}

export function pairedRandomizationTest(a: readonly number[], b: readonly number[], { trials = 100_000, seed = 1 } = {}): PairedComparison {
  if (a.length !== b.length) throw new Error(`paired scores differ in length: ${a.length} and ${b.length}`);
  if (a.length === 0) return { meanDifference: 0, p: 1 };
  const differences = a.map((score, index) => score - b[index]!);
  const observed = Math.abs(sum(differences));
  // Sums equal up to rounding count as "as far": a permutation that only reorders the additions must not miss.
  const tolerance = 1e-9 * Math.max(1, observed);
  const random = seededRandom(seed);
  let hits = 0;
  for (let trial = 0; trial < trials; trial++) {
    let total = 0;
    for (const difference of differences) total += random() < 0.5 ? difference : -difference;
    if (Math.abs(total) >= observed - tolerance) hits++;
  }
  return { meanDifference: sum(differences) / differences.length, p: (hits + 1) / (trials + 1) };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

