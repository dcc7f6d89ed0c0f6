/**
 * The SDK covers the whole public API: the operation documents under src/sdk/operations/
 * select every root field of the schema, and every one of those operations is round-tripped
 * against the real server by some SDK test (test/sdk/*.test.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { buildSchema, Kind, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';

const read = (directory: URL, suffix: string) =>
  readdirSync(directory)
    .filter((name) => name.endsWith(suffix))
    .map((name) => ({ name, text: readFileSync(new URL(name, directory), 'utf8') }));

const operations = read(new URL('../../src/sdk/operations/', import.meta.url), '.graphql').flatMap(({ text }) =>
  parse(text).definitions.filter((node): node is OperationDefinitionNode => node.kind === Kind.OPERATION_DEFINITION),
);
const schema = buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));

describe('the SDK', () => {
  it('has an operation for every query, mutation and subscription field', () => {
    const selected = new Set(
      operations.flatMap((operation) =>
        operation.selectionSet.selections.flatMap((selection) => (selection.kind === Kind.FIELD ? [`${operation.operation}.${selection.name.value}`] : [])),
      ),
    );
    const roots = [
      ['query', schema.getQueryType()],
      ['mutation', schema.getMutationType()],
      ['subscription', schema.getSubscriptionType()],
    ] as const;
    const fields = roots.flatMap(([kind, type]) => Object.keys(type?.getFields() ?? {}).map((field) => `${kind}.${field}`));
    expect(fields.length).toBeGreaterThan(50);
    expect(fields.filter((field) => !selected.has(field))).toEqual([]);
  });

  it('round-trips every operation in some SDK test', () => {
    const tests = read(new URL('./', import.meta.url), '.test.ts').filter(({ name }) => name !== 'coverage.test.ts');
    // Passed to the client (`query(sdk.XDocument`, `mutate(XDocument`…), not merely imported.
    const used = (name: string) => tests.some(({ text }) => new RegExp(`\\b(request|query|mutate|subscribe)\\((sdk\\.)?${name}Document\\b`).test(text));
    // The console's and the CLI's own operations (console-*.graphql, cli.graphql) are run by the
    // browser tests (test/console) and the CLI's child-process tests (test/cli), not by an SDK
    // test; round-tripping them here too is left (noted on issues 21 and 22).
    const appOnly = new Set(
      read(new URL('../../src/sdk/operations/', import.meta.url), '.graphql')
        .filter(({ name }) => name.startsWith('console-') || name === 'cli.graphql')
        .flatMap(({ text }) => parse(text).definitions.flatMap((node) => (node.kind === Kind.OPERATION_DEFINITION && node.name ? [node.name.value] : []))),
    );
    const names = operations.map((operation) => operation.name!.value).filter((name) => !appOnly.has(name));
    expect(names.length).toBeGreaterThan(50);
    expect(names.filter((name) => !used(name))).toEqual([]);
  });
});
