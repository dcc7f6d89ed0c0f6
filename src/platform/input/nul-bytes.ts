/**
 * The one rule for NUL (U+0000) in what a caller sends: it is refused in every argument,
 * variable, uploaded file's name, REST body field and query parameter, whatever the field.
 * PostgreSQL cannot store it in `text` or `jsonb` (the insert fails, and the caller used to
 * get INTERNAL with the SQL), and no name, filter, email or query has a use for it. Document
 * text reaches the database from uploaded bytes, which ingestion's UTF-8 decoder refuses when
 * they hold NUL; inline document text is an argument, so this rule covers it.
 */

export type InputPath = (string | number)[];

const NUL = '\u0000';

/**
 * Where the first NUL in `value` is (a path of keys and indexes), or null. Walks strings, plain
 * objects (their keys too), arrays and uploaded files (their names), without recursion, so
 * deeply nested JSON cannot overflow the stack.
 */
export function nulBytePath(value: unknown, root: InputPath = []): InputPath | null {
  const pending: [unknown, InputPath][] = [[value, root]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      if (item.includes(NUL)) return path;
    } else if (Array.isArray(item)) {
      item.forEach((element, index) => pending.push([element, [...path, index]]));
    } else if (isUploadedFile(item)) {
      if (item.name.includes(NUL)) return [...path, 'name'];
    } else if (item !== null && typeof item === 'object' && !(item instanceof Date)) {
      for (const [key, element] of Object.entries(item)) {
        if (key.includes(NUL)) return [...path, key];
        pending.push([element, [...path, key]]);
      }
    }
  }
  return null;
}

/** A path as people read it: `$input.name`, `files.0.name`. */
export function describePath(path: InputPath): string {
  return path.map(String).join('.');
}

/** The refusal's wording, the same on every door. */
export function nulByteMessage(what: string): string {
  return `${what} contains a NUL character (U+0000), which no argument may carry`;
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
