/**
 * The `map` field of a multipart upload (graphql-multipart-request-spec): which variable each
 * file goes to, `{"0": ["variables.files.0"], …}`. Yoga applies it without looking at its shape:
 * a path that is not a string failed inside it as INTERNAL ("keyPath.split is not a function"),
 * a string where the list of paths goes was walked a character at a time, and one path of
 * 450 000 segments (under the 1 MiB field limit) built an object 450 000 levels deep for every
 * later reader to walk, seconds per request. The map is checked here, as text, before Yoga
 * applies it: an object of at most `maxFiles` files, each with a non-empty list of paths, at
 * most `maxFiles` paths in all, each `variables.<name>…` of non-empty keys and at most
 * `maxSegments` of them. Whether `<name>` is a variable the operation declares is
 * plugins/variable-limits.ts's to say, as for any variable.
 */

export interface UploadMapBounds {
  /** SLUICE_INGEST_MAX_FILES: the most files (and paths) one request can map. */
  maxFiles: number;
  /** The most keys in one path, `variables` included. */
  maxSegments: number;
}

/** Why `text` is no upload map within the bounds (a sentence for the caller), or null. */
export function uploadMapRefusal(text: string, { maxFiles, maxSegments }: UploadMapBounds): string | null {
  let map: unknown;
  try {
    map = JSON.parse(text);
  } catch {
    return null; // Not JSON: Yoga's parser refuses it with its own words.
  }
  if (map === null || typeof map !== 'object' || Array.isArray(map)) return 'The multipart field "map" must be a JSON object of file field names to lists of variable paths.';
  const entries = Object.entries(map);
  if (entries.length > maxFiles) return `The multipart field "map" names more than ${maxFiles} files (SLUICE_INGEST_MAX_FILES).`;
  let paths = 0;
  for (const [field, list] of entries) {
    const shown = field.length > 64 ? `${field.slice(0, 64)}…` : field;
    if (!Array.isArray(list) || list.length === 0 || !list.every((path) => typeof path === 'string')) {
      return `The multipart field "map" must give each file a non-empty list of variable paths (strings): "${shown}" has none.`;
    }
    paths += list.length;
    if (paths > maxFiles) return `The multipart field "map" maps files to more than ${maxFiles} paths (SLUICE_INGEST_MAX_FILES).`;
    for (const path of list as string[]) {
      const refusal = pathRefusal(path, maxSegments);
      if (refusal) return `The multipart field "map" maps "${shown}" to ${refusal}.`;
    }
  }
  return null;
}

function pathRefusal(path: string, maxSegments: number): string | null {
  const shown = path.length > 64 ? `${path.slice(0, 64)}…` : path;
  if (!path.startsWith('variables.')) return `"${shown}", which is not in the variables (a path starts with "variables.")`;
  // Counted before splitting: a path of 450 000 dots is refused without a list of its keys.
  let segments = 1;
  for (let at = path.indexOf('.'); at !== -1; at = path.indexOf('.', at + 1)) {
    segments += 1;
    if (segments > maxSegments) return `a path of more than ${maxSegments} keys`;
  }
  if (path.split('.').some((key) => key === '')) return `"${shown}", which has an empty key`;
  return null;
}
