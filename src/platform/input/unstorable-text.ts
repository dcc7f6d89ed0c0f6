/**
 * The one rule for text PostgreSQL cannot store, in what a caller sends: refused in every
 * argument, variable, uploaded file's name, REST body field and query parameter, whatever the
 * field.
 * - NUL (U+0000): PostgreSQL cannot store it in `text` or `jsonb` (the insert fails, and the
 *   caller used to get INTERNAL with the SQL), and no name, filter, email or query has a use for it.
 * - Half a UTF-16 surrogate pair (JSON's `"\ud83d"` escape alone, or a GraphQL literal's): not
 *   a character. JSON carries it into `jsonb` and `json_to_recordset` as the escape, which
 *   PostgreSQL refuses (22P02), and into `text` as U+FFFD, silently changed: the JSON
 *   counterpart of bytes that are not UTF-8, which the body readers refuse (utf8-bodies.ts).
 * Document text reaches the database from uploaded bytes, which ingestion's UTF-8 decoder
 * refuses when they hold NUL; inline document text is an argument, so this rule covers it.
 */

export type InputPath = (string | number)[];

const NUL = '\u0000';

/** Whether `text` holds a NUL or half a surrogate pair. */
export function isUnstorableText(text: string): boolean {
  return text.includes(NUL) || !text.isWellFormed();
}

/** A step of a path, linked to its parent's: a path is built only for the NUL found. */
interface Step {
  parent: Step | null;
  key: string | number;
}

/**
 * Where the first unstorable string in `value` is (isUnstorableText) (a path of keys and indexes), or null. Walks strings, plain
 * objects (their keys too), arrays and uploaded files (their names), without recursion, so
 * deeply nested JSON cannot overflow the stack, and in time linear in the input: each value
 * pending holds a link to its parent's step, not a copy of its whole path (copies made 450 000
 * levels of `[[[…]]]`, under the body limit, cost quadratic time and held the event loop for
 * minutes).
 */
export function unstorableTextPath(value: unknown, root: InputPath = []): InputPath | null {
  const pending: [unknown, Step | null][] = [[value, null]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, step] = next;
    if (typeof item === 'string') {
      if (isUnstorableText(item)) return pathOf(root, step);
    } else if (Array.isArray(item)) {
      item.forEach((element, index) => pending.push([element, { parent: step, key: index }]));
    } else if (isUploadedFile(item)) {
      if (isUnstorableText(item.name)) return pathOf(root, { parent: step, key: 'name' });
    } else if (item !== null && typeof item === 'object' && !(item instanceof Date)) {
      for (const [key, element] of Object.entries(item)) {
        if (isUnstorableText(key)) return pathOf(root, { parent: step, key });
        pending.push([element, { parent: step, key }]);
      }
    }
  }
  return null;
}

function pathOf(root: InputPath, step: Step | null): InputPath {
  const keys: (string | number)[] = [];
  for (let at = step; at; at = at.parent) keys.push(at.key);
  return [...root, ...keys.reverse()];
}

/** A path as people read it: `$input.name`, `files.0.name`. */
export function describePath(path: InputPath): string {
  return path.map(String).join('.');
}

/** The refusal's wording, the same on every door. */
export function unstorableTextMessage(what: string): string {
  return `${what} contains a NUL character (U+0000) or half of a UTF-16 surrogate pair (a lone \\ud800–\\udfff escape), which no argument may carry`;
}

/** Yoga's multipart parser hands in its own File class: recognise files by shape. */
function isUploadedFile(value: unknown): value is { name: string } {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { arrayBuffer?: unknown }).arrayBuffer === 'function'
  );
}
