import { lexicographicSortSchema, printSchema as print } from 'graphql';
import { schema } from './index.js';

/** The schema as committed in schema.graphql. */
export function printSchema(): string {
  return `${print(lexicographicSortSchema(schema))}\n`;
}
