/**
 * Unique parts for test names, emails and slugs. Their random part is digits, not base-36: its
 * letters spell words now and then, and the console tests find buttons by accessible name,
 * which Playwright matches as a case-insensitive substring unless told otherwise. An email
 * ending "…zavask@example.test" in the account menu (a button) made
 * `getByRole('button', { name: 'Ask' })` find two buttons and fail test/console/app-endpoints.test.ts.
 */
export function randomDigits(count: number): string {
  return Array.from({ length: count }, () => Math.floor(Math.random() * 10)).join('');
}

let counter = 0;
/** `prefix-<pid>-<n>-<digits>`: unique across the suite's processes and across runs on one database. */
export function uniqueSlug(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}-${randomDigits(5)}`;
}
