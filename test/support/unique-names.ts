/**
 * Random digits for the unique part of test names, emails and slugs. Not base-36: its letters
 * spell words now and then, and the console tests find buttons by accessible name, which
 * Playwright matches as a case-insensitive substring unless told otherwise. An email ending
 * "…zavask@example.test" in the account menu (a button) made `getByRole('button', { name: 'Ask' })`
 * find two buttons and fail test/console/app-endpoints.test.ts.
 */
export function randomDigits(count: number): string {
  return Array.from({ length: count }, () => Math.floor(Math.random() * 10)).join('');
}
