/**
 * The trusted documents of a locked-down deployment (SLUICE_TRUSTED_DOCUMENTS): a JSON file
 * `{ "<hash>": "<GraphQL document>" }`, as GraphQL Code Generator's client preset writes with
 * `persistedDocuments: true`. The keys are opaque ids to Sluice (whatever hash the generator
 * used); clients send them instead of the document.
 *
 * Read once at start-up. A file that cannot be read, is not such an object, or holds a document
 * that does not parse stops start-up with a ConfigError (exit code 78) naming the bad entry:
 * better than refusing every client at run time.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'graphql';

export class TrustedDocuments {
  private constructor(
    /** Where the documents came from, for start-up logs. */
    readonly file: string,
    private readonly documents: ReadonlyMap<string, string>,
  ) {}

  get size(): number {
    return this.documents.size;
  }

  /** The document behind `id`, or undefined when it is not trusted. */
  get(id: string): string | undefined {
    return this.documents.get(id);
  }

  /**
   * Reads and checks `file`; every problem found is in the thrown error's `issues` (one line
   * each, naming the entry, never echoing a whole document).
   */
  static async load(file: string): Promise<TrustedDocuments> {
    const issues: string[] = [];
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof SyntaxError ? 'not valid JSON' : 'unreadable');
      throw new TrustedDocumentsError([`SLUICE_TRUSTED_DOCUMENTS: cannot read ${JSON.stringify(file)} (${reason})`]);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new TrustedDocumentsError([`SLUICE_TRUSTED_DOCUMENTS: ${JSON.stringify(file)} must hold a JSON object of {"<hash>": "<document>"}`]);
    }
    const documents = new Map<string, string>();
    for (const [id, document] of Object.entries(raw)) {
      if (typeof document !== 'string' || document.trim() === '') {
        issues.push(`SLUICE_TRUSTED_DOCUMENTS: entry ${JSON.stringify(id)} is not a GraphQL document string`);
        continue;
      }
      try {
        parse(document);
      } catch (error) {
        issues.push(`SLUICE_TRUSTED_DOCUMENTS: entry ${JSON.stringify(id)} does not parse: ${(error as Error).message}`);
        continue;
      }
      documents.set(id, document);
    }
    if (documents.size === 0 && issues.length === 0) issues.push(`SLUICE_TRUSTED_DOCUMENTS: ${JSON.stringify(file)} holds no document`);
    if (issues.length > 0) throw new TrustedDocumentsError(issues);
    return new TrustedDocuments(file, documents);
  }
}

/** Raised by `TrustedDocuments.load`; config.ts reports its issues like any bad setting. */
export class TrustedDocumentsError extends Error {
  constructor(readonly issues: string[]) {
    super(issues.join('\n'));
    this.name = 'TrustedDocumentsError';
  }
}
