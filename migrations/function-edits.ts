/**
 * Migrations that change a hand-written function restate it as an earlier migration's text with
 * a few exact replacements, not a copy: each replaced text must occur exactly once, so an
 * edit that no longer fits the function it edits fails when the migration is loaded instead of
 * silently changing nothing.
 */
export function editedSql(sql: string, edits: readonly (readonly [from: string, to: string])[], migration: string): string {
  return edits.reduce((text, [from, to]) => {
    if (text.split(from).length !== 2) throw new Error(`${migration}: expected one occurrence of ${JSON.stringify(from.slice(0, 80))}`);
    return text.replace(from, () => to);
  }, sql);
}
