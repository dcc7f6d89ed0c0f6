/**
 * The instants a caller may give: years 0001 to 9999, what ISO 8601 / RFC 3339 writes with four
 * digits. JavaScript's Date takes years 0 and ±275 760, PostgreSQL's timestamptz 4713 BC to
 * 294 276 AD but neither year 0 nor the expanded `+099999` form `toISOString()` writes: a date
 * outside this range reached the database and came back as INTERNAL (500, with the SQL in
 * development). Every date-time argument (the DateTime scalar) and query parameter (the audit
 * export) is checked here.
 */

export const EARLIEST_DATE_TIME = new Date('0001-01-01T00:00:00.000Z');
export const LATEST_DATE_TIME = new Date('9999-12-31T23:59:59.999Z');

/** Said in every refusal, so the caller learns the range. */
export const DATE_TIME_RANGE = `${EARLIEST_DATE_TIME.toISOString()} to ${LATEST_DATE_TIME.toISOString()}`;

/** A valid Date within the range (not NaN, not year 0, not a five-digit year). */
export function isDateTimeInRange(date: Date): boolean {
  const time = date.getTime();
  return !Number.isNaN(time) && time >= EARLIEST_DATE_TIME.getTime() && time <= LATEST_DATE_TIME.getTime();
}
