/**
 * Sending files to `ingestDocuments`, with the bytes sent reported as they go. The server
 * checks every input before it accepts a call and refuses the whole call if one is bad; a
 * refusal that only names files it cannot take (their format, their encoding, their size) is
 * not the user's whole drop being wrong: those files are set aside with the server's reason
 * and the rest are sent again.
 */
import { ConsoleIngestFilesDocument, type ConsoleIngestFilesMutation, type IngestionOptionsInput, type SluiceClient } from '../../../../sdk/index.js';
import { SluiceError } from '../../sluice.js';
import type { SkippedFile } from './chosen-files.js';

/** Refusals that concern one file alone (docs/ingestion.md, "Limits and refusals"). */
const PER_FILE_REASONS = new Set(['UNSUPPORTED_FORMAT', 'INVALID_ENCODING', 'FILE_TOO_LARGE', 'INVALID_TITLE']);

export type StartedJob = ConsoleIngestFilesMutation['ingestDocuments'];

interface Problem {
  index: number;
  name: string;
  reason: string;
  message: string;
}

export async function uploadFiles(
  client: SluiceClient,
  datasetId: string,
  files: File[],
  onProgress: (sent: number, total: number) => void,
  options?: IngestionOptionsInput,
): Promise<{ job: StartedJob | undefined; refused: SkippedFile[] }> {
  const refused: SkippedFile[] = [];
  let remaining = files;
  while (remaining.length > 0) {
    try {
      // Each file's name is its path in the folder it came from (chosen-files.ts); sent apart,
      // since multipart keeps only a name's last segment.
      const fileNames = remaining.map((file) => file.name);
      const { ingestDocuments } = await client.mutate(ConsoleIngestFilesDocument, { datasetId, files: remaining, fileNames, options }, { onUploadProgress: onProgress });
      return { job: ingestDocuments, refused };
    } catch (error) {
      const problems = fileProblems(error);
      if (!problems) throw error;
      const dropped = new Set(problems.map((problem) => problem.index));
      refused.push(...problems.map((problem) => ({ name: problem.name, why: problem.message })));
      remaining = remaining.filter((_, index) => !dropped.has(index));
    }
  }
  return { job: undefined, refused };
}

/** The problems of a refusal that names only files it cannot take; undefined for any other failure. */
function fileProblems(error: unknown): Problem[] | undefined {
  if (!(error instanceof SluiceError) || error.code !== 'BAD_USER_INPUT') return undefined;
  const problems = error.details.problems as Problem[] | undefined;
  if (!Array.isArray(problems) || problems.length === 0) return undefined;
  return problems.every((problem) => Number.isInteger(problem.index) && PER_FILE_REASONS.has(problem.reason)) ? problems : undefined;
}
