/** The committed artefacts match the code: schema.graphql and the migrations. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm, type Orm } from '../src/db/orm.js';
import { entities } from '../src/domains/entities.js';
import { printSchema } from '../src/schema/print.js';
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

  it('schema.graphql is the printed Pothos schema (run `npm run schema:print`)', () => {
    expect(readFileSync('schema.graphql', 'utf8')).toBe(printSchema());
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
