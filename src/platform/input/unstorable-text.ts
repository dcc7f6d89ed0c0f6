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

/**
 * Where the first unstorable string in `value` is (isUnstorableText) (a path of keys and
 * indexes), or null. Walks strings, plain objects (their keys too), arrays and uploaded files
 * (their names) without recursion, so deeply nested JSON cannot overflow the stack, in time
 * linear in the input, and allocating per container, not per value: a stack holds each open
 * container with its keys and the index reached, and a path is built only for the string found.
 * (Copying each value's path made 450 000 levels of `[[[…]]]` cost quadratic time; two objects
 * per value made a list of 450 000 zeros cost a second. An operation's variables are bounded
 * before this walk: plugins/variable-limits.ts.)
 */
export function unstorableTextPath(value: unknown, root: InputPath = []): InputPath | null {
  const open: Frame[] = [];
  /** The next value below the open containers: a string or a file name checked, a list or an object opened. */
  const visit = (item: unknown): InputPath | null => {
    if (typeof item === 'string') return isUnstorableText(item) ? pathOf(root, open) : null;
    if (Array.isArray(item)) open.push({ container: item, keys: null, next: 0 });
    else if (isUploadedFile(item)) {
      if (isUnstorableText(item.name)) return [...pathOf(root, open), 'name'];
    } else if (item !== null && typeof item === 'object' && !(item instanceof Date)) {
      const keys = Object.keys(item);
      for (const key of keys) if (isUnstorableText(key)) return [...pathOf(root, open), key];
      open.push({ container: item as Record<string, unknown>, keys, next: 0 });
    }
    return null;
  };
  let found = visit(value);
  for (let frame = open.at(-1); !found && frame; frame = open.at(-1)) {
    const { container, keys, next } = frame;
    if (next >= (keys ?? (container as unknown[])).length) {
      open.pop();
      continue;
    }
    // Advanced before the child is visited: `next - 1` is where the child is, for its path.
    frame.next = next + 1;
    found = visit(keys ? (container as Record<string, unknown>)[keys[next] as string] : (container as unknown[])[next]);
  }
  return found;
}

/** An open list or object, its keys (an object's), and the index of the next element to visit. */
interface Frame {
  container: unknown[] | Record<string, unknown>;
  keys: string[] | null;
  next: number;
}

/** The path to the element being visited: each open container's key or index, below `root`. */
function pathOf(root: InputPath, open: Frame[]): InputPath {
  return [...root, ...open.map(({ keys, next }) => (keys ? (keys[next - 1] as string) : next - 1))];
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
