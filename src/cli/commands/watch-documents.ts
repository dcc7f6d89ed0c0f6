/**
 * Which documents `sluice ingest --watch` wrote, and deleting only those. A dataset is shared:
 * another member may ingest under the same source key as a watched file (before the watcher,
 * or after it, replacing what it sent), so a document is this watcher's only if its own job
 * wrote it, and it is deleted only while nobody has written it since (its updatedAt unchanged).
 */
import { DeleteDocumentDocument, DocumentsAsTheyAreDocument, WatchedDocumentsDocument, type SluiceClient } from '../../sdk/index.js';
import type { SentDocument, SentFile } from './watch-state.js';

/** A document a removed file's removal did not delete, and why. */
export interface KeptDocument {
  file: string;
  /** Null when the file's documents are not known (`NOT_RECORDED`). */
  sourceKey: string | null;
  /** CHANGED_SINCE_SENT: written by someone else after this watcher; NOT_RECORDED: sent before this watcher kept ids. */
  reason: 'CHANGED_SINCE_SENT' | 'NOT_RECORDED';
}

/** The file a source key came from: a file's own name, or its name and `#…` per record of a JSON or CSV file (docs/ingestion.md). */
function fileOf(sourceKey: string, names: Set<string>): string | undefined {
  if (names.has(sourceKey)) return sourceKey;
  const hash = sourceKey.indexOf('#');
  return hash > 0 && names.has(sourceKey.slice(0, hash)) ? sourceKey.slice(0, hash) : undefined;
}

/** The dataset's documents now under these files' source keys, per file. */
export async function documentsUnder(client: SluiceClient, datasetId: string, names: Set<string>): Promise<Map<string, SentDocument[]>> {
  const found = new Map<string, SentDocument[]>();
  let after: string | undefined;
  for (;;) {
    const { dataset } = await client.query(WatchedDocumentsDocument, { id: datasetId, first: 100, after });
    for (const { node } of dataset?.documents.edges ?? []) {
      const file = fileOf(node.sourceKey, names);
      if (file !== undefined) found.set(file, [...(found.get(file) ?? []), { id: node.id, sourceKey: node.sourceKey, updatedAt: node.updatedAt }]);
    }
    if (!dataset?.documents.pageInfo.hasNextPage) return found;
    after = dataset.documents.pageInfo.endCursor ?? undefined;
  }
}

const same = (a: SentDocument, b: SentDocument) => a.id === b.id && a.updatedAt === b.updatedAt;

/**
 * The documents of a file that are this watcher's after a send: those its job wrote (the input
 * INDEXED or REPLACED them: not there before, or there with another updatedAt), and those it
 * had written before and nobody has written since. A document that was there unchanged before
 * the send (UNCHANGED: same content, someone else's) is not claimed. Undefined (unknown) stays
 * so unless the job wrote something.
 */
export function documentsWritten(previous: SentFile | undefined, before: SentDocument[], after: SentDocument[], wrote: boolean): SentDocument[] | undefined {
  const known = previous ? previous.documents : [];
  if (known === undefined && !wrote) return undefined;
  return after.filter((document) => (wrote && !before.some((earlier) => same(earlier, document))) || known?.some((sent) => same(sent, document)));
}

/**
 * Deletes the documents these removed files were recorded to have become, each only if it is
 * still as this watcher left it; the rest are reported as kept.
 */
export async function deleteSentDocuments(client: SluiceClient, removed: [name: string, sent: SentFile][]): Promise<{ deleted: number; kept: KeptDocument[] }> {
  const kept: KeptDocument[] = [];
  const sent: { file: string; document: SentDocument }[] = [];
  for (const [file, { documents }] of removed) {
    if (documents === undefined) kept.push({ file, sourceKey: null, reason: 'NOT_RECORDED' });
    else sent.push(...documents.map((document) => ({ file, document })));
  }
  let deleted = 0;
  for (let start = 0; start < sent.length; start += 100) {
    const page = sent.slice(start, start + 100);
    const { nodes } = await client.query(DocumentsAsTheyAreDocument, { ids: page.map(({ document }) => document.id) });
    for (const [index, { file, document }] of page.entries()) {
      const now = nodes[index];
      if (!now || !('updatedAt' in now)) continue; // gone already (deleted elsewhere, or by retention)
      if (now.updatedAt !== document.updatedAt) {
        kept.push({ file, sourceKey: now.sourceKey, reason: 'CHANGED_SINCE_SENT' });
        continue;
      }
      const done = await client.mutate(DeleteDocumentDocument, { id: document.id }).catch((error: { code?: string }) => {
        if (error.code === 'NOT_FOUND') return undefined;
        throw error;
      });
      if (done) deleted += 1;
    }
  }
  return { deleted, kept };
}
