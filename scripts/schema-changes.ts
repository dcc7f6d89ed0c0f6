/**
 * What changed between two versions of the public schema, by GraphQL Inspector's criticality:
 * BREAKING (clients' operations can fail: a field or argument removed, a type narrowed),
 * DANGEROUS (valid but may change behaviour: an enum value or a default added) and
 * NON_BREAKING. `npm run schema:print` shows these before it rewrites schema.graphql and
 * refuses breaking changes without `--allow-breaking`, so that a break is always deliberate.
 */
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';

export interface SchemaChanges {
  breaking: string[];
  dangerous: string[];
  safe: string[];
}

export async function schemaChanges(before: string, after: string): Promise<SchemaChanges> {
  const changes = await diff(buildSchema(before), buildSchema(after));
  const of = (level: CriticalityLevel) => changes.filter((change) => change.criticality.level === level).map((change) => change.message);
  return { breaking: of(CriticalityLevel.Breaking), dangerous: of(CriticalityLevel.Dangerous), safe: of(CriticalityLevel.NonBreaking) };
}

export function describeChanges({ breaking, dangerous, safe }: SchemaChanges): string {
  const section = (title: string, lines: string[]) => (lines.length ? [`${title} (${lines.length}):`, ...lines.map((line) => `  - ${line}`)] : []);
  const text = [...section('BREAKING', breaking), ...section('dangerous', dangerous), ...section('non-breaking', safe)].join('\n');
  return text || 'no changes';
}
