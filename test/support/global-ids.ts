/**
 * Global ids in tests. A test reading or writing rows by hand needs the database id inside a
 * global id (base64 of "Type:uuid"); it decodes with the server's own decoder (the builder's
 * relay option in src/schema/builder.ts), so a change of encoding changes the tests with it and
 * an id that is not one fails here, loudly, instead of yielding `undefined` to a query.
 */
import { builder } from '../../src/schema/builder.js';

const decode = builder.options.relay?.decodeGlobalID;
if (!decode) throw new Error('src/schema/builder.ts no longer sets relay.decodeGlobalID: point databaseIdOf at the decoder it uses');

/** The database id (a uuid) inside a global id such as `Dataset.id`. */
export function databaseIdOf(globalId: string): string {
  return String(decode!(globalId, {} as never).id);
}
