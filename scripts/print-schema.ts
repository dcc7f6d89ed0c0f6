/** Prints the Pothos schema, sorted, to schema.graphql (committed; a test fails when stale). */
import { writeFileSync } from 'node:fs';
import { printSchema } from '../src/schema/print.js';

writeFileSync('schema.graphql', printSchema());
console.log('wrote schema.graphql');
