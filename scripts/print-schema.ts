/**
 * Prints the Pothos schema, sorted, to schema.graphql (committed; a test fails when stale),
 * after listing what changed against the committed file. Breaking changes (a field, argument
 * or type that clients may use removed or narrowed) are refused unless `--allow-breaking` is
 * given: say why in the commit message (docs/sdk.md, "Schema changes").
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { printSchema } from '../src/schema/print.js';
import { describeChanges, schemaChanges } from './schema-changes.js';

const printed = printSchema();
const committed = existsSync('schema.graphql') ? readFileSync('schema.graphql', 'utf8') : undefined;
if (committed !== undefined && committed !== printed) {
  const changes = await schemaChanges(committed, printed);
  console.log(describeChanges(changes));
  if (changes.breaking.length > 0 && !process.argv.includes('--allow-breaking')) {
    console.error('schema.graphql not written: the changes above break clients. Rerun with `npm run schema:print -- --allow-breaking` if that is deliberate.');
    process.exit(1);
  }
}
writeFileSync('schema.graphql', printed);
console.log(committed === printed ? 'schema.graphql is up to date' : 'wrote schema.graphql');
