/** The committed artefacts match the code: schema.graphql and the migrations. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm, type Orm } from '../src/db/orm.js';
import { entities } from '../src/domains/entities.js';
import { printSchema } from '../src/schema/print.js';
import { describeChanges, schemaChanges } from '../scripts/schema-changes.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

describe('committed artefacts', () => {
  let database: TestDatabase;
  let orm: Orm;

  beforeAll(async () => {
    database = await createTestDatabase();
    orm = await openOrm({ clientUrl: database.ownerUrl, entities });
  });
  afterAll(async () => {
    await orm?.close(true);
    await database?.drop();
  });

  it('schema.graphql is the printed Pothos schema (run `npm run schema:print`)', async () => {
    const committed = readFileSync('schema.graphql', 'utf8');
    const printed = printSchema();
    // On a mismatch, say what changed and whether it breaks clients, not just that it differs.
    const changes = committed === printed ? 'none' : describeChanges(await schemaChanges(committed, printed));
    expect(changes, 'schema.graphql is stale; the changes since it was printed').toBe('none');
    expect(committed).toBe(printed);
  });

  it('tells breaking schema changes from safe ones', async () => {
    const before = 'type Query { a: String, b(limit: Int): [String!] }\nenum Kind { X }';
    const after = 'type Query { b(limit: Int!): [String!], c: Int }\nenum Kind { X Y }';
    const changes = await schemaChanges(before, after);
    expect(changes.breaking).toEqual(expect.arrayContaining([expect.stringContaining("Field 'a' was removed from object type 'Query'"), expect.stringMatching(/limit.*Int.*Int!/)]));
    expect(changes.dangerous).toEqual([expect.stringContaining("'Y' was added to enum 'Kind'")]);
    expect(changes.safe).toEqual([expect.stringContaining("'c' was added to object type 'Query'")]);
    expect(describeChanges(changes)).toMatch(/^BREAKING \(2\):/);
  });

  it('src/sdk/generated is what codegen makes of schema.graphql and the operations (run `npm run codegen`)', async () => {
    const { generate } = await import('@graphql-codegen/cli');
    const { default: config } = await import('../codegen.js');
    const outputs = (await generate({ ...config, silent: true }, false)) as { filename: string; content: string }[];
    expect(outputs.length).toBeGreaterThan(0);
    for (const output of outputs) expect({ file: output.filename, content: readFileSync(output.filename, 'utf8') }).toEqual({ file: output.filename, content: output.content });
  });

  it('the migrations produce exactly the entities’ schema (run `npm run migration:create`)', async () => {
    const migrator = orm.getMigrator();
    expect(await migrator.getPendingMigrations()).toEqual([]);
    const diff = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe('');
  });
});
