/**
 * How fast this worker's chunk INSERTs run, in characters of chunk text per second, learned
 * from the ones it has run: the basis of the estimate of how far an INSERT still running has
 * got (writer.ts). PostgreSQL reports no progress for an INSERT, and the one statement that
 * writes a large file's chunks is most of its time (issue 21). One per worker; before its
 * first INSERT large enough to time, DEFAULT_CHARS_PER_SECOND.
 */

/**
 * A 4 MB Markdown file's chunks (4.9 M characters) went in at 0.5 to 0.6 M characters a second
 * on 2 shared cores at load average 14 (test/ingestion/progress-inside-input.test.ts). A
 * quieter machine is faster: the estimate then lags, and the bar catches up when the INSERT ends.
 */
const DEFAULT_CHARS_PER_SECOND = 500_000;
/** Smaller INSERTs are mostly fixed cost: timing them would understate the rate of a large one. */
const SAMPLE_MIN_CHARS = 256 * 1024;

export class WriteRate {
  private charsPerSecond = DEFAULT_CHARS_PER_SECOND;
  private sampled = false;

  /** An INSERT of `chars` characters of chunk text took `ms`: the rate follows it (half the old, half the new). */
  observe(chars: number, ms: number): void {
    if (chars < SAMPLE_MIN_CHARS || ms <= 0) return;
    const sample = (chars * 1000) / ms;
    this.charsPerSecond = this.sampled ? (this.charsPerSecond + sample) / 2 : sample;
    this.sampled = true;
  }

  /** The fraction of an INSERT of `chars` characters done after `ms`, at this rate: never more than `cap`. */
  estimate(chars: number, ms: number, cap: number): number {
    if (chars <= 0) return cap;
    return Math.min(cap, Math.max(0, (this.charsPerSecond * ms) / 1000 / chars));
  }
}
