/**
 * The GraphQL multipart request spec (what `ingestDocuments(files: …)` takes): variables
 * holding Blobs or Files travel as form parts, mapped to their variable paths.
 */
export function multipartBody(query: string, variables: Record<string, unknown> | undefined): { body: string | FormData; multipart: boolean } {
  const files: { path: string; blob: Blob }[] = [];
  const stripped = collect(variables ?? {}, 'variables', files);
  if (files.length === 0) return { body: JSON.stringify({ query, variables }), multipart: false };
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: stripped }));
  form.append('map', JSON.stringify(Object.fromEntries(files.map((file, index) => [String(index), [file.path]]))));
  files.forEach((file, index) => form.append(String(index), file.blob, (file.blob as File).name ?? `file-${index}`));
  return { body: form, multipart: true };
}

function collect(value: unknown, path: string, files: { path: string; blob: Blob }[]): unknown {
  if (typeof Blob !== 'undefined' && value instanceof Blob) {
    files.push({ path, blob: value });
    return null;
  }
  if (Array.isArray(value)) return value.map((item, index) => collect(item, `${path}.${index}`, files));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, collect(item, `${path}.${key}`, files)]));
  return value;
}
