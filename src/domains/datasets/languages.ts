/**
 * The text-search configurations PostgreSQL ships (15 and later), by name: a dataset's
 * `language` picks one. `simple` does no stemming and keeps every word (no stop list), for a
 * language none of the others stems; it still splits words at spaces and punctuation, so text
 * written without spaces between words (Chinese, Japanese, Thai) is not searchable word by
 * word by keyword (docs/ingestion.md, "What keyword search reads").
 */
export const TEXT_SEARCH_LANGUAGES = [
  'simple', 'arabic', 'armenian', 'basque', 'catalan', 'danish', 'dutch', 'english', 'finnish', 'french', 'german',
  'greek', 'hindi', 'hungarian', 'indonesian', 'irish', 'italian', 'lithuanian', 'nepali', 'norwegian', 'portuguese',
  'romanian', 'russian', 'serbian', 'spanish', 'swedish', 'tamil', 'turkish', 'yiddish',
] as const;

export type TextSearchLanguage = (typeof TEXT_SEARCH_LANGUAGES)[number];

export function isTextSearchLanguage(value: string): value is TextSearchLanguage {
  return (TEXT_SEARCH_LANGUAGES as readonly string[]).includes(value);
}
