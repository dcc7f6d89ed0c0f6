/**
 * Accepting input: `ingest` validates every input up front (limits, format, UTF-8) and
 * refuses the whole call if one is bad, so nothing is half-accepted (a tenant at its queued-jobs
 * limit is refused before any of that, queue.ts); it stores the inputs
 * durably and enqueues the job in the same transaction, so a job exists exactly when its queue
 * entry does. The worker (pipeline.ts) does the rest; job-commands.service.ts cancels and
 * retries, progress-reader.service.ts reads and follows.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { boundSql } from '../../db/bound-sql.js';
import { Dataset } from '../datasets/dataset.entity.js';
import { displayName, oneLine, TITLE_MAX, titleFromContent } from '../display-text.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { assertCan } from '../access/permissions.js';
import type { ServiceContext } from '../service-context.js';
import { IngestionJob } from './ingestion-job.entity.js';
import { resolveIngestionOptions, type IngestionOptionsInput } from './options.js';
import { assertTextual, detectFormat, MIME_OF, type Format } from './parsers/formats.js';
import { assertQueueRoom, enqueueIngestion } from './queue.js';
import { decodeUpload, type UploadedBytes } from './upload-text.js';

/** An uploaded file: the web File API's shape, so the schema can pass uploads straight in. */
export interface UploadedFile extends UploadedBytes {
  readonly name: string;
  readonly type: string;
  readonly size: number;
}

export interface InlineDocument {
  title: string;
  text: string;
  mimeType?: string | null;
  metadata?: Record<string, unknown> | null;
}

interface AcceptedInput {
  name: string;
  format: Format;
  mimeType: string;
  content: string;
  byteCount: number;
  metadata: Record<string, unknown>;
}

export class AcceptInputService {
  constructor(private readonly ctx: ServiceContext) {}

  /** `fileNames`: what to call each file instead of its own name (a relative path: multipart keeps only a name's last segment). */
  async ingest(
    datasetId: string,
    files: readonly UploadedFile[],
    documents: readonly InlineDocument[],
    options?: IngestionOptionsInput,
    fileNames?: readonly string[],
  ): Promise<IngestionJob> {
    const { actor, em } = this.ctx;
    assertCan(actor, 'data:write');
    const resolved = resolveIngestionOptions(options);
    const dataset = await em.findOne(Dataset, { id: datasetId });
    if (!dataset) throw new NotFoundError('Dataset');
    if (fileNames && fileNames.length > files.length) {
      throw new ValidationError(`fileNames has ${fileNames.length} names for ${files.length} files`, { field: 'fileNames', reason: 'TOO_MANY_NAMES' });
    }
    // At the queued-jobs limit, refused before its inputs are decoded or written (queue.ts).
    await assertQueueRoom(em, actor.tenantId, this.ctx.deps.ingestion.maxQueuedJobs);
    const inputs = await this.accept(files, documents, fileNames ?? []);
    const job = em.create(IngestionJob, {
      tenant: actor.tenantId,
      dataset,
      options: resolved,
      documentsTotal: inputs.length,
      bytesTotal: inputs.reduce((sum, input) => sum + input.byteCount, 0),
      createdBy: actor.userId,
    });
    await em.flush();
    await storeInputs(em, actor.tenantId, job.id, inputs);
    await enqueueIngestion(em, actor.tenantId, job.id, this.ctx.deps.ingestion.maxQueuedJobs);
    return job;
  }

  private async accept(files: readonly UploadedFile[], documents: readonly InlineDocument[], fileNames: readonly string[]): Promise<AcceptedInput[]> {
    const limits = this.ctx.deps.ingestion;
    const count = files.length + documents.length;
    if (count === 0) throw new ValidationError('Give at least one file or document', { reason: 'NO_INPUT' });
    if (count > limits.maxFiles) {
      throw new ValidationError(`At most ${limits.maxFiles} files and documents per call (got ${count})`, { reason: 'TOO_MANY_FILES', max: limits.maxFiles });
    }
    const problems: { index: number; name: string; reason: string; message: string }[] = [];
    const accepted: AcceptedInput[] = [];
    const refuse = (index: number, name: string, error: unknown) => {
      if (!(error instanceof ValidationError)) throw error;
      problems.push({ index, name, reason: String(error.details.reason ?? 'INVALID'), message: error.message });
    };
    for (const [index, file] of files.entries()) {
      // A file's name names its document: cleaned like every title; a nameless file gets one.
      const fallback = `file-${index + 1}`;
      const given = fileNames[index] ?? file.name;
      let name = titleFromContent(given) || fallback;
      try {
        name = displayName(oneLine(given) || fallback, `files.${index}.name`, TITLE_MAX, { reason: 'INVALID_NAME' });
        if (file.size > limits.maxFileBytes) throw tooLarge(name, file.size, limits.maxFileBytes);
        const format = detectFormat(name, file.type);
        // A step at a time (upload-text.ts): a call's files at once held the event loop for seconds.
        const { text, byteCount } = await decodeUpload(file, name);
        accepted.push({ name, format, mimeType: MIME_OF[format], content: text, byteCount, metadata: {} });
      } catch (error) {
        refuse(index, name, error);
      }
    }
    for (const [offset, document] of documents.entries()) {
      const index = files.length + offset;
      let name = titleFromContent(document.title ?? '') || `document-${offset + 1}`;
      try {
        name = displayName(document.title, `documents.${offset}.title`, TITLE_MAX, { reason: 'INVALID_TITLE' });
        // A byte order mark is not text: an uploaded file's goes when it is decoded (decodeUpload), an inline text's here.
        const text = document.text.startsWith('\uFEFF') ? document.text.slice(1) : document.text;
        const byteCount = Buffer.byteLength(text, 'utf8');
        if (byteCount > limits.maxFileBytes) throw tooLarge(name, byteCount, limits.maxFileBytes);
        assertTextual(text, name);
        const format = document.mimeType ? detectFormat(name, document.mimeType) : 'text';
        accepted.push({ name, format, mimeType: MIME_OF[format], content: text, byteCount, metadata: document.metadata ?? {} });
      } catch (error) {
        refuse(index, name, error);
      }
    }
    if (problems.length > 0) {
      throw new ValidationError(`${problems.length} of ${count} inputs refused: ${problems.map((p) => p.message).join('; ')}`, {
        reason: problems[0]!.reason,
        problems,
      });
    }
    const total = accepted.reduce((sum, input) => sum + input.byteCount, 0);
    if (total > limits.maxRequestBytes) {
      throw new ValidationError(`The inputs total ${total} bytes; at most ${limits.maxRequestBytes} per call`, { reason: 'REQUEST_TOO_LARGE', max: limits.maxRequestBytes });
    }
    return accepted;
  }
}

/**
 * The inputs as the job's items, with bound parameters: through the ORM each megabyte of text
 * would be inlined into the SQL one character at a time (see bound-sql.ts).
 */
async function storeInputs(em: EntityManager, tenantId: string, jobId: string, inputs: AcceptedInput[]): Promise<void> {
  for (const [ordinal, input] of inputs.entries()) {
    await boundSql(
      em,
      `insert into ingestion_items (id, tenant_id, job_id, ordinal, name, format, mime_type, content, metadata, byte_count)
       values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?)`,
      [tenantId, jobId, ordinal, input.name, input.format, input.mimeType, input.content, JSON.stringify(input.metadata), input.byteCount],
    );
  }
}

function tooLarge(name: string, size: number, max: number): ValidationError {
  return new ValidationError(`${JSON.stringify(name)} is ${size} bytes; at most ${max} per file`, { reason: 'FILE_TOO_LARGE', name, max });
}
