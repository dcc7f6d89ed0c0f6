/**
 * The usage view's arithmetic: the ranges it offers, the buckets of a range (the API returns
 * only buckets with activity; the charts show the empty ones too), and each chart's series.
 */
import type { UsageInterval, UsageOverTimeQuery } from '../../../../sdk/index.js';

export type UsagePoint = UsageOverTimeQuery['usageOverTime'][number];

export interface RangeChoice {
  id: string;
  label: string;
  interval: UsageInterval;
  /** How many buckets back from the current one (included). */
  buckets: number;
}

export const RANGES: RangeChoice[] = [
  { id: '24h', label: 'Last 24 hours (hourly)', interval: 'HOUR', buckets: 24 },
  { id: '7d', label: 'Last 7 days (hourly)', interval: 'HOUR', buckets: 7 * 24 },
  { id: '30d', label: 'Last 30 days (daily)', interval: 'DAY', buckets: 30 },
  { id: '90d', label: 'Last 90 days (daily)', interval: 'DAY', buckets: 90 },
];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The range's bucket starts (UTC), oldest first, and the range to ask for: [first, end of the current bucket). */
export function bucketsOf(choice: RangeChoice, now = new Date()): { starts: Date[]; from: Date; to: Date } {
  const width = choice.interval === 'HOUR' ? HOUR_MS : DAY_MS;
  const current = Math.floor(now.getTime() / width) * width;
  const starts = Array.from({ length: choice.buckets }, (_, index) => new Date(current - (choice.buckets - 1 - index) * width));
  return { starts, from: starts[0]!, to: new Date(current + width) };
}

/** A bucket's label, in UTC like the buckets themselves: `2026-06-01 14:00` or `2026-06-01`. */
export function bucketLabel(start: Date, interval: UsageInterval): string {
  const iso = start.toISOString();
  return interval === 'HOUR' ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(0, 10);
}

export interface Metric {
  id: string;
  title: string;
  /** What one unit is, for the axis and the table's caption. */
  unit: string;
  value(point: UsagePoint): number;
}

export const METRICS: Metric[] = [
  { id: 'queries', title: 'Queries', unit: 'queries answered', value: (point) => point.queries },
  { id: 'tokens', title: 'Tokens', unit: 'prompt + completion tokens', value: (point) => point.totalTokens },
  // Micro-units of the models' prices (whatever currency they were entered in).
  { id: 'cost', title: 'Cost', unit: 'units of the models’ prices', value: (point) => point.costMicros / 1_000_000 },
  { id: 'refusals', title: 'Refusals', unit: 'queries the policies refused', value: (point) => point.denials },
];

export interface Series {
  key: string;
  /** One value per bucket, in the order of `starts`. */
  values: number[];
}

/** One series per key (in the order the keys first appear, `(other)` last), zero where a bucket had nothing. */
export function seriesOf(points: UsagePoint[], starts: Date[], metric: Metric): Series[] {
  const index = new Map(starts.map((start, position) => [start.getTime(), position]));
  const byKey = new Map<string, number[]>();
  for (const point of points) {
    const position = index.get(Date.parse(point.start));
    if (position === undefined) continue;
    let values = byKey.get(point.key);
    if (!values) byKey.set(point.key, (values = starts.map(() => 0)));
    values[position] = (values[position] ?? 0) + metric.value(point);
  }
  const keys = [...byKey.keys()].sort((a, b) => Number(a === '(other)') - Number(b === '(other)') || a.localeCompare(b));
  return keys.map((key) => ({ key, values: byKey.get(key)! }));
}

/** Callers by key (`user:<uuid>` → email, `apiKey:<uuid>` → “key name (slk_…)”). */
export type CallerNames = Map<string, string>;

/**
 * A series' name for a legend or a column: an endpoint's slug as it is, a caller by its name
 * where known, else its key shortened (the full key goes in a title).
 */
export function seriesLabel(key: string, names?: CallerNames): string {
  const named = names?.get(key);
  if (named) return named;
  const caller = /^(\w+):(.{13,})$/.exec(key);
  return caller ? `${caller[1]}:${caller[2]!.slice(0, 8)}…` : key;
}

/** A number as the tables show it: whole numbers as they are, cost to 4 decimals. */
export function formatValue(value: number, metric: Metric): string {
  return metric.id === 'cost' ? value.toFixed(4) : String(value);
}
